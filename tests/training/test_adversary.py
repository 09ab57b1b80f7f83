"""Adversarial policies: ``mazearena train --adversary-of VICTIM_RUN``."""

import json

import pytest
import torch
from test_train import TINY, crash_after, metrics, without

from mazearena.actor import choose
from mazearena.checks import UserError
from mazearena.training import TrainConfig, train
from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig
from mazearena.training.config import ArenaEnvConfig
from mazearena.training.runs import load_trained, make_envs

ARENA = {
    **without(TINY, "env", "ppo"),
    "algo": "mappo",
    "mappo": MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
    "video_episodes": 0,
}


@pytest.fixture(scope="module")
def tag_victim(tmp_path_factory):
    arena = ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=30, num_levels=20)
    return train(TrainConfig(runs_dir=tmp_path_factory.mktemp("victims"), name="chasers", arena=arena, **ARENA))


def test_the_runner_learns_against_the_frozen_chasers_and_resumes_exactly(tag_victim, tmp_path):
    adversary = {**ARENA, "adversary_of": tag_victim, "video_episodes": 1}
    run = train(TrainConfig(runs_dir=tmp_path, name="runner", **adversary))
    cfg, _, policy, _ = load_trained(run)
    assert cfg.trained_team == 1 and cfg.learners == 1 and policy.num_agents == 1  # the blue runner
    assert cfg.arena == load_trained(tag_victim)[0].arena  # the victim's arenas
    report = json.loads((run / "report.json").read_text())
    victim = {row["opponent"]: row for row in report["victim"]}
    assert set(victim) == {"the adversary", "scripted NPCs (tag_2v1_vs_fleeing_npc_heldout)"}
    assert all(0 <= r["win_rate"] <= 1 and r["games"] >= 16 for r in victim.values())
    assert "## The victim against its adversary" in (run / "report.md").read_text()
    assert (run / "episodes.gif").stat().st_size > 0
    from mazearena.apps.watch import WatchConfig, watch

    games = watch(WatchConfig(run=run, episodes=2, record=tmp_path / "versus.gif"))  # the runner against the chasers
    assert len(games) == 2 and (tmp_path / "versus.gif").stat().st_size > 0
    with pytest.raises(UserError, match="this run is an adversary"):
        watch(WatchConfig(run=run, explain=True, episodes=1))
    from mazearena.apps.export import ExportConfig, export

    out = export(ExportConfig(run=run, out=tmp_path / "export"))
    spec = json.loads((out / "spec.json").read_text())
    assert spec["env"]["team"] == "blue" and spec["env"]["opponent"] == "run chasers (adversary_of)"
    assert "trained as the adversary of run chasers" in (out / "README.md").read_text()
    crashed = crash_after(MAPPO, 3, TrainConfig(runs_dir=tmp_path, name="crashed", **adversary))
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == metrics(run)


def test_an_adversarys_games_are_played_against_its_victim(tag_victim, tmp_path):
    """The adversary's env is the all-agent arena with the victim's network acting the other team: step for
    step the games of the two playing each other."""
    run = train(TrainConfig(runs_dir=tmp_path, name="runner", **{**ARENA, "adversary_of": tag_victim}))
    cfg = load_trained(run)[0]
    victim_cfg, _, victim, _ = load_trained(tag_victim)
    versus = make_envs(cfg, 8, test=True, seed=7)
    both = make_envs(victim_cfg, 8, test=True, seed=7, both_teams=True)
    assert list(both.possible_agents) == ["red_0", "red_1", "blue_0"] and versus.possible_agents == ["blue_0"]
    mine, _ = versus.reset()
    full, info = both.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        assert torch.equal(mine, full[:, 2:])
        runner = torch.randint(0, 5, (8, 1), generator=gen)
        torch.manual_seed(1)
        mine, reward, *_ = versus.step(runner)
        torch.manual_seed(1)
        with torch.no_grad():
            chasers = choose(victim.logits(full[:, :2], None, info["alive"][:, :2])[0])
        full, rewards, _, _, info = both.step(torch.cat([chasers, runner], 1))
        assert torch.equal(reward, rewards[:, 2:])


def test_a_self_play_victim_is_compared_with_its_league(tmp_path):
    from mazearena.agents.league import LeagueConfig

    arena = ArenaEnvConfig(mode="combat", size=9, max_cycles=20, num_levels=20)
    league = LeagueConfig(self_play=True, snapshot_every=2, opponent_groups=2)
    victim = train(TrainConfig(runs_dir=tmp_path, name="victim", arena=arena, league=league, **ARENA))
    run = train(TrainConfig(runs_dir=tmp_path, name="adversary", adversary_of=victim, **ARENA))
    report = json.loads((run / "report.json").read_text())
    rows = {row["opponent"].split(" (")[0]: row for row in report["victim"]}
    assert set(rows) == {"the adversary", "scripted NPCs", "itself", "its self-play league"}
    assert rows["its self-play league"]["games"] >= 4
    assert load_trained(run)[0].trained_team == 1  # the victim played red
    # in a game both teams play alike the adversary may take the victim's side, starting as a copy of it
    copy = TrainConfig(adversary_of=victim, init_from=victim, league=LeagueConfig(team="red"), **ARENA)
    assert copy.trained_team == copy.scenario_team == 0 and copy.learners == load_trained(victim)[0].learners
    # the adversary joins the league of a self-play run: a block of games for the whole run; resumes exactly
    hardened = {**ARENA, "arena": arena, "league": LeagueConfig(**{**vars(league), "adversaries": (run,)})}
    straight = train(TrainConfig(runs_dir=tmp_path, name="hardened", **hardened))
    crashed = crash_after(MAPPO, 5, TrainConfig(runs_dir=tmp_path, name="crashed", **hardened))
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == metrics(straight)
    with pytest.raises(UserError, match="is no adversary run"):
        bad = {**hardened, "league": LeagueConfig(**{**vars(league), "adversaries": (victim,)})}
        train(TrainConfig(runs_dir=tmp_path, name="bad", **bad))


def test_bad_adversary_options_are_named(tag_victim, tmp_path):
    from mazearena.agents.league import LeagueConfig
    from mazearena.training import EnvConfig

    maze = train(TrainConfig(runs_dir=tmp_path, name="maze", **{**TINY, "env": EnvConfig(size=7), "video_episodes": 0}))
    with pytest.raises(UserError, match="on mazes; adversaries play arena teams"):
        TrainConfig(algo="mappo", adversary_of=maze)
    with pytest.raises(UserError, match="not a run folder"):
        TrainConfig(algo="mappo", adversary_of=tmp_path / "nothing")
    with pytest.raises(UserError, match="with algo 'mappo', not 'ppo'"):
        TrainConfig(adversary_of=tag_victim)
    with pytest.raises(UserError, match="pick one"):
        TrainConfig(
            algo="mappo", adversary_of=tag_victim, league=LeagueConfig(self_play=True), arena=ArenaEnvConfig(mode="ctf")
        )
    with pytest.raises(UserError, match="the victim's side: an adversary takes it only where both teams"):
        TrainConfig(algo="mappo", adversary_of=tag_victim, league=LeagueConfig(team="red"))
    with pytest.raises(UserError, match="leave the arena options unset"):
        TrainConfig(algo="mappo", adversary_of=tag_victim, arena=ArenaEnvConfig(mode="ctf"))
