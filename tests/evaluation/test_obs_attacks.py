"""Observation attacks in the harness: ``--perturbations attack_obs flip_obs``, budgets of cells."""

import csv

import pytest
import torch

import mazearena
from mazearena.actor import PolicyActor
from mazearena.agents.attacks import AttackedActor, attack_target
from mazearena.agents.episodes import play_episodes
from mazearena.agents.policies import ActorCritic
from mazearena.evaluation.evaluate import EvalConfig, evaluate
from mazearena.evaluation.perturbations import PerturbedVectorEnv
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.ppo import PPOConfig


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = TrainConfig(
        runs_dir=tmp_path_factory.mktemp("runs"),
        name="maze",
        core="gru",
        env=EnvConfig(size=7, num_levels=50),
        ppo=PPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
        total_timesteps=512,
        eval_every=0,
        eval_episodes=16,
        video_episodes=0,
        wandb_mode="disabled",
        progress=False,
    )
    return train(cfg)


@pytest.mark.parametrize("kind", ["attack_obs", "flip_obs"])
@pytest.mark.parametrize("core", ["none", "gru"])
def test_a_budget_of_zero_cells_plays_the_clean_games_bit_for_bit(kind, core):
    space = mazearena.make_vec("mazearena/Maze-v0", 1, size=7).single_observation_space
    torch.manual_seed(0)
    net = ActorCritic(space, 4, "cnn", core=core).eval()
    out = []
    for actor in (PolicyActor(net, True), None):
        env = mazearena.make_vec("mazearena/Maze-v0", 8, seed=3, size=7, max_steps=20)
        if actor is None:
            target = attack_target(env)
            actor = AttackedActor(PolicyActor(net, True), kind, 0, target, torch.Generator().manual_seed(0))
        out.append(play_episodes(env, actor, 24))
    assert out[0] == out[1]


def test_attacks_and_their_random_control_are_reported_at_every_budget(run, tmp_path):
    out = evaluate(
        EvalConfig(
            runs=(run,),
            suites=("test",),
            perturbations=("attack_obs", "flip_obs"),
            episodes=8,
            num_envs=8,
            curve_episodes=0,
            maze_episodes=2,
            modes=("deterministic",),
            out=tmp_path / "eval",
            wandb_mode="disabled",
            progress=False,
        )
    )
    with open(out / "episodes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    played = {(r["perturbation"], float(r["severity"])) for r in rows}
    for kind in ("attack_obs", "flip_obs"):
        assert {(kind, k) for k in (1.0, 2.0, 4.0)} <= played
    assert ("none", 0.0) in played  # budget 0 is the clean condition
    assert (out / "severity.png").stat().st_size > 0


def test_attacks_apply_to_one_hot_views_and_entity_tokens_only():
    with pytest.raises(ValueError, match="one-hot views"):
        PerturbedVectorEnv(mazearena.make_vec("mazearena/Maze-v0", 2, obs_mode="rgb"), "attack_obs", 1)
    with pytest.raises(ValueError, match="an int in"):
        PerturbedVectorEnv(mazearena.make_vec("mazearena/Maze-v0", 2), "attack_obs", 0.5)
    # an env wrapper cannot read the policy: a budget above 0 says where the attack goes instead
    with pytest.raises(ValueError, match="wraps the actor, not the env"):
        PerturbedVectorEnv(mazearena.make_vec("mazearena/Maze-v0", 2), "flip_obs", 2)
    PerturbedVectorEnv(mazearena.make_vec("mazearena/Maze-v0", 2), "attack_obs", 0)  # budget 0: the clean env


@pytest.mark.parametrize("obs_mode", ["grid", "tokens"])
def test_arena_teams_are_attacked_in_the_harness(obs_mode, tmp_path):
    from mazearena.training.algorithms.mappo import MAPPOConfig
    from mazearena.training.config import ArenaEnvConfig

    run = train(
        TrainConfig(
            runs_dir=tmp_path,
            name="team",
            algo="mappo",
            backbone="cnn" if obs_mode == "grid" else "transformer",
            arena=ArenaEnvConfig(
                scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=20, num_levels=20, obs_mode=obs_mode
            ),
            mappo=MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
            total_timesteps=256,
            eval_every=0,
            eval_episodes=8,
            video_episodes=0,
            wandb_mode="disabled",
            progress=False,
        )
    )
    out = evaluate(
        EvalConfig(
            runs=(run,),
            suites=("test",),
            perturbations=("attack_obs", "flip_obs"),
            episodes=8,
            num_envs=8,
            curve_episodes=0,
            out=tmp_path / "eval",
            wandb_mode="disabled",
            progress=False,
        )
    )
    with open(out / "episodes.csv", newline="") as f:
        played = {(r["perturbation"], float(r["severity"])) for r in csv.DictReader(f)}
    assert {(kind, k) for kind in ("attack_obs", "flip_obs") for k in (1.0, 2.0, 4.0)} <= played
