"""Training under perturbations (``--train-perturbations``), adversarial training among them."""

import pytest
import torch
from test_train import TINY, crash_after, metrics, without

import mazearena
from mazearena.actor import PolicyActor
from mazearena.agents.attacks import attack_target
from mazearena.agents.policies import ActorCritic
from mazearena.checks import UserError
from mazearena.training import TrainConfig, train
from mazearena.training.algorithms.ppo import PPO
from mazearena.training.perturb import TrainingPerturbations, parse_train_perturbations


@pytest.mark.parametrize(
    "specs, match",
    [
        (["obs_noise"], "NAME:SEVERITY"),
        (["nonsense:0.1"], "unknown perturbation"),
        (["obs_noise:2"], r"\[0, 1\]"),
        (["attack_obs:0.5"], "an int in"),
        (["obs_noise:0.1:0"], r"probability of obs_noise must be in \(0, 1\]"),
        (["obs_noise:0.1:0.6", "attack_obs:1:0.6"], "sum to 1.2"),
        (["obs_noise:0.1", "obs_noise:0.2"], "given twice"),
        (["npc_sharpness:1"], "every game's NPCs"),
        (["obs_noise:x"], "must be numbers"),
    ],
)
def test_bad_training_perturbations_are_named(specs, match):
    with pytest.raises(UserError, match=match):
        parse_train_perturbations(specs)


def test_the_config_checks_them_and_keeps_them_in_one_form():
    cfg = TrainConfig(train_perturbations=("attack_obs:1", "obs_noise:0.1:0.25"))
    assert cfg.train_perturbations == ("attack_obs:1:0.5", "obs_noise:0.1:0.25")
    with pytest.raises(UserError, match="trains with algo 'ppo', 'mappo' and 'a2c', not 'dqn'"):
        TrainConfig(algo="dqn", train_perturbations=("obs_noise:0.1",))


def _net(env, core: str = "none"):
    torch.manual_seed(0)
    net = ActorCritic(env.single_observation_space, 4, "cnn", core=core).eval()
    with torch.no_grad():
        net.actor.weight.mul_(100.0)  # an untrained head's logits are nearly tied
    return net


def test_each_game_plays_its_episode_clean_or_under_one_perturbation():
    """Clean games see exactly what the env shows, the others what their perturbation makes of it; a game keeps
    its draw for the whole episode."""
    kwargs = dict(seed=3, size=7, max_steps=12)
    clean = mazearena.make_vec("mazearena/Maze-v0", 64, **kwargs)
    env = mazearena.make_vec("mazearena/Maze-v0", 64, **kwargs)
    specs = parse_train_perturbations(["obs_noise:0.2:0.4", "frame_drop:1:0.3"])
    wrapped = TrainingPerturbations(env, specs, PolicyActor(_net(env)), seed=0)
    seen, _ = wrapped.reset(seed=3)
    shown, _ = clean.reset(seed=3)
    gen = torch.Generator().manual_seed(0)
    played = set()
    for _ in range(40):
        which = wrapped.which
        played |= set(which.tolist())
        assert torch.equal(seen[which == -1], shown[which == -1])
        assert ((seen != shown).flatten(1).any(1) == (which == 0))[which != 1].all()  # noise: every view differs
        assert (seen[which == 1] == 0).all()  # dropped frames
        before = which.clone()
        actions = torch.randint(0, 4, (64,), generator=gen)
        seen, _, terminated, truncated, _ = wrapped.step(actions)
        shown, *_ = clean.step(actions)
        ongoing = ~(terminated | truncated)
        assert torch.equal(wrapped.which[ongoing], before[ongoing])
    assert played == {-1, 0, 1}


def test_the_draws_follow_the_probabilities_and_replay_from_the_seed():
    env = mazearena.make_vec("mazearena/Maze-v0", 256, seed=1, size=7, max_steps=8)
    specs = parse_train_perturbations(["obs_noise:0.1:0.25", "sticky_actions:0.5:0.5"])
    draws = []
    for _ in range(2):
        wrapped = TrainingPerturbations(env, specs, PolicyActor(_net(env)), seed=4)
        wrapped.reset(seed=1)
        seen = [wrapped.which.clone()]
        for _ in range(24):  # three whole episodes of every game
            wrapped.step(torch.zeros(256, dtype=torch.long))
            seen.append(wrapped.which.clone())
        draws.append(torch.stack(seen))
    assert torch.equal(draws[0], draws[1])
    episode_starts = draws[0][::8].flatten()  # max_steps 8 and no goal reached by standing still: new draws
    share = torch.stack([(episode_starts == k).float().mean() for k in (-1, 0, 1)])
    assert torch.allclose(share, torch.tensor([0.25, 0.25, 0.5]), atol=0.06)


def test_adversarial_training_attacks_the_current_policy_on_the_games_drawn_for_it():
    env = mazearena.make_vec("mazearena/Maze-v0", 32, seed=2, size=7)
    clean_env = mazearena.make_vec("mazearena/Maze-v0", 32, seed=2, size=7)
    net = _net(env)
    actor = PolicyActor(net)
    wrapped = TrainingPerturbations(env, parse_train_perturbations(["attack_obs:1:0.5"]), actor, seed=0)
    seen, _ = wrapped.reset(seed=2)
    shown, _ = clean_env.reset(seed=2)
    attacked = wrapped.which == 0
    assert 0 < int(attacked.sum()) < 32
    assert torch.equal(seen[~attacked], shown[~attacked])
    changed = (seen != shown).any(1).flatten(1).sum(1)
    assert (changed[attacked] <= 1).all() and (changed[attacked] == 1).any()
    target = actor.logits(shown, None).argmax(-1)
    p = lambda obs: torch.softmax(actor.logits(obs, None), -1).gather(1, target[:, None])[:, 0]  # noqa: E731
    assert (p(seen)[attacked] <= p(shown)[attacked] + 1e-6).all()
    assert attack_target(env).protect == env.unwrapped.engine.channels.index("agent")
    # a recurrent policy's memory is not in the env: refused by name
    with pytest.raises(UserError, match="recurrent core's memory"):
        TrainingPerturbations(env, parse_train_perturbations(["attack_obs:1"]), PolicyActor(_net(env, "gru")), 0)


def test_a_run_under_attack_trains_is_reproducible_and_resumes_exactly(tmp_path):
    tiny = {**TINY, "video_episodes": 0, "train_perturbations": ("attack_obs:1:0.5", "obs_noise:0.1:0.25")}
    straight = train(TrainConfig(runs_dir=tmp_path, name="straight", **tiny))
    again = train(TrainConfig(runs_dir=tmp_path, name="again", **tiny))
    assert metrics(straight) == metrics(again)
    crashed = crash_after(PPO, 3, TrainConfig(runs_dir=tmp_path, name="crashed", **tiny))
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == metrics(straight)
    plain = train(TrainConfig(runs_dir=tmp_path, name="plain", **{**tiny, "train_perturbations": ()}))
    assert metrics(plain) != metrics(straight)


@pytest.mark.parametrize("obs_mode", ["grid", "tokens"])
def test_a_team_trains_under_attack_and_resumes_exactly(obs_mode, tmp_path):
    from mazearena.agents.league import LeagueConfig
    from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig
    from mazearena.training.config import ArenaEnvConfig

    tiny = {
        **without(TINY, "env", "ppo"),
        "algo": "mappo",
        "backbone": "cnn" if obs_mode == "grid" else "transformer",
        "arena": ArenaEnvConfig(mode="ctf", size=9, max_cycles=20, num_levels=20, obs_mode=obs_mode),
        "mappo": MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
        "video_episodes": 0,
        "league": LeagueConfig(self_play=True, snapshot_every=2, opponent_groups=2),
        "train_perturbations": ("attack_obs:2:0.5", "sticky_actions:0.25:0.25"),
    }
    straight = train(TrainConfig(runs_dir=tmp_path, name="straight", **tiny))
    crashed = crash_after(MAPPO, 5, TrainConfig(runs_dir=tmp_path, name="crashed", **tiny))
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == metrics(straight)
