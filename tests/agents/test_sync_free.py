"""The device path: a PPO rollout makes no host round-trip of its own (so a GPU never waits on the host
between env steps), and valuing time-outs that way learns what the row-picking way learns."""

import contextlib
import sys

import pytest
import torch

import mazearena
from mazearena.agents.policies import ActorCritic
from mazearena.training.algorithms.ppo import PPO, PPOConfig

# Tensor methods that make the host wait for the device (on CUDA); on the CPU they are counted instead.
SYNCS = ("item", "tolist", "__bool__", "__int__", "__float__", "nonzero", "cpu", "numpy", "any", "all")


@contextlib.contextmanager
def count_syncs():
    counts = {"n": 0, "off": False}
    originals = {name: getattr(torch.Tensor, name) for name in SYNCS}

    def counted(name):
        def call(self, *args, **kwargs):
            # Adam's step counters live on the host even for GPU parameters: reading them is no round-trip
            caller = sys._getframe(1).f_code.co_filename
            if not counts["off"] and name not in ("any", "all") and "torch/optim" not in caller:
                counts["n"] += 1  # any()/all() alone stay on the device
            return originals[name](self, *args, **kwargs)

        return call

    for name in SYNCS:
        setattr(torch.Tensor, name, counted(name))
    try:
        yield counts
    finally:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, fn)


def uncounted(fn, counts):
    """``fn`` with its own round-trips left out of ``counts`` (the env's work is not the trainer's)."""

    def call(*args):
        counts["off"] = True
        try:
            return fn(*args)
        finally:
            counts["off"] = False

    return call


def ppo(sync_free: bool, max_steps: int = 12, device: str = "cpu"):
    torch.manual_seed(0)
    envs = mazearena.make_vec(
        "mazearena/Maze-v0", 16, seed=0, size=7, num_levels=20, max_episode_steps=max_steps, device=device
    )
    policy = ActorCritic(envs.single_observation_space, envs.single_action_space.n, "cnn").to(device)
    return PPO(
        PPOConfig(num_envs=16, num_steps=32, num_minibatches=2),
        envs,
        policy,
        torch.device(device),
        10,
        sync_free=sync_free,
    )


def test_a_sync_free_rollout_never_waits_for_the_device_outside_the_env(device):
    algo = ppo(sync_free=True, device=device)
    with count_syncs() as counts:
        algo.envs.step = uncounted(algo.envs.step, counts)
        algo._rollout()
    assert counts["n"] == 0
    with count_syncs() as counts:
        ppo(sync_free=False, device=device)._rollout()
    assert counts["n"] > 0  # the counter does see round-trips: the row-picking path makes them


def test_sync_free_time_outs_bootstrap_the_same_rewards(device):
    def first_iteration(sync_free: bool, max_steps: int = 12):  # time limit 12: many time-outs to bootstrap
        algo = ppo(sync_free, max_steps, device)  # seeds the global RNG, which sampling then draws from
        algo._rollout()
        rewards, actions = algo.buf_rewards.clone(), algo.buf_actions.clone()
        return rewards, actions, algo.iteration()

    ra, aa, ma = first_iteration(True)
    rb, ab, mb = first_iteration(False)
    assert torch.equal(aa, ab)
    assert torch.allclose(ra, rb, atol=1e-6)  # batch shapes differ: float rounding only
    assert ma["episode/count"] == mb["episode/count"] > 0
    assert ma["loss/value"] == pytest.approx(mb["loss/value"], rel=1e-3)
    plain, _, _ = first_iteration(True, max_steps=1000)
    assert not torch.allclose(ra, plain)  # the bootstrap did change rewards


def mappo(sync_free: bool, centralized: bool, device: str = "cpu"):
    from mazearena.agents.policies import MultiAgentActorCritic
    from mazearena.envs import arena_v0
    from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig

    torch.manual_seed(0)
    envs = arena_v0.vector_env(8, seed=0, scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=10, device=device)
    policy = MultiAgentActorCritic(
        envs.single_observation_space,
        envs.state_space,
        envs.num_agents,
        envs.single_action_space.n,
        centralized_critic=centralized,
    ).to(device)
    cfg = MAPPOConfig(num_envs=8, num_steps=24, num_minibatches=2, centralized_critic=centralized)
    return MAPPO(cfg, envs, policy, torch.device(device), 10, sync_free=sync_free)


@pytest.mark.parametrize("centralized", [False, True])
def test_a_sync_free_mappo_rollout_makes_no_round_trip_and_bootstraps_the_same(centralized, device):
    algo = mappo(True, centralized, device)
    with count_syncs() as counts:
        algo.envs.step, algo.envs.state = uncounted(algo.envs.step, counts), uncounted(algo.envs.state, counts)
        algo._rollout()
    if not centralized:  # with a centralised critic the engine's final state decides (its own round-trip)
        assert counts["n"] == 0
    rewards = algo.buf_rewards.clone()
    metrics = algo.iteration()
    other = mappo(False, centralized, device)
    other._rollout()
    assert torch.allclose(rewards, other.buf_rewards, atol=1e-5)
    assert metrics["episode/count"] == other.iteration()["episode/count"]


def test_compiled_forward_passes_train_like_eager_ones():
    def run(compile: bool):
        torch.manual_seed(0)
        envs = mazearena.make_vec("mazearena/Maze-v0", 8, seed=0, size=7, num_levels=20)
        policy = ActorCritic(envs.single_observation_space, envs.single_action_space.n, "cnn")
        algo = PPO(
            PPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
            envs,
            policy,
            torch.device("cpu"),
            10,
            compile=compile,
        )
        return algo, [algo.iteration() for _ in range(2)]

    compiled, a = run(True)
    eager, b = run(False)
    assert compiled.net is not compiled.policy and eager.net is eager.policy
    assert [m.get("episode/count") for m in a] == [m.get("episode/count") for m in b]  # windows as well
    assert a[1]["loss/value"] == pytest.approx(b[1]["loss/value"], rel=1e-2)
    weights = compiled.state_dict()["policy"]  # checkpoints hold the plain module's weights
    assert set(weights) == set(eager.policy.state_dict())


@pytest.mark.parametrize("obs_mode", ["partial", "full", "rgb"])
def test_the_maze_engine_resets_without_a_round_trip_and_plays_the_same_games(obs_mode):
    def play(sync_free: bool):
        env = mazearena.make_vec(
            "mazearena/Maze-v0",
            32,
            seed=3,
            size=9,
            num_levels=50,
            backend="torch",
            max_episode_steps=15,
            obs_mode=obs_mode,
            check_actions=False,
        )
        env.unwrapped.engine.sync_free = sync_free
        obs, _ = env.reset()
        g = torch.Generator().manual_seed(0)
        out = [obs]
        with count_syncs() as counts:
            for _ in range(60):  # several episodes per game (time limit 15)
                obs, reward, terminated, truncated, info = env.step(torch.randint(0, 4, (32,), generator=g))
                out += [obs, reward, terminated, truncated, info["final_obs"], info["level_id"]]
        return out, counts["n"]

    fast, syncs = play(True)
    slow, slow_syncs = play(False)
    assert syncs == 0 and slow_syncs > 0
    assert all(torch.equal(a, b) for a, b in zip(fast, slow, strict=True))


def test_a_sync_free_reset_needs_cached_levels():
    env = mazearena.make_vec("mazearena/Maze-v0", 4, seed=0, size=9, num_levels=0, backend="torch")
    env.unwrapped.engine.sync_free = True
    env.reset()
    with pytest.raises(RuntimeError, match="cached on the device"):
        for _ in range(400):
            env.step(torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize(("mode", "obs_mode"), [("tag", "grid"), ("ctf", "both"), ("combat", "tokens")])
def test_the_arena_engine_steps_without_a_round_trip_and_plays_the_same_games(mode, obs_mode):
    from mazearena.envs import arena_v0

    def play(sync_free: bool):
        env = arena_v0.vector_env(
            16,
            seed=2,
            mode=mode,
            red=2,
            blue=2,
            size=11,
            num_levels=20,
            max_cycles=25,
            obs_mode=obs_mode,
            check_actions=False,
        )
        env.engine.backend = "torch"  # the ops a GPU runs
        env.engine.sync_free = sync_free
        obs, _ = env.reset()
        g = torch.Generator().manual_seed(0)
        flat = lambda o: list(o.values()) if isinstance(o, dict) else [o]  # noqa: E731
        out = flat(obs)
        with count_syncs() as counts:
            for _ in range(80):  # several games per slot
                obs, reward, terminated, truncated, info = env.step(
                    torch.randint(0, env.single_action_space.n, (16, 4), generator=g)
                )
                out += [
                    *flat(obs),
                    reward,
                    terminated,
                    truncated,
                    info["winner"],
                    info["level_id"],
                    *flat(info["final_obs"]),
                ]
        return out, counts["n"], info

    fast, syncs, info = play(True)
    slow, slow_syncs, _ = play(False)
    assert syncs == 0 and slow_syncs > 0
    assert "final_state" in info  # always there on the device path (no check whether a game timed out)
    assert all(torch.equal(a, b) for a, b in zip(fast, slow, strict=True))


def test_npcs_on_the_device_path_play_the_same_games():
    from mazearena.envs import arena_v0

    def play(sync_free: bool):  # the held-out ctf population has a patroller, which walks to the arena centre
        env = arena_v0.vector_env(
            8, seed=1, scenario="ctf_3v3_vs_guards_heldout", size=11, num_levels=10, max_cycles=20, check_actions=False
        )
        env.engine.backend = "torch"
        env.engine.sync_free = sync_free
        obs, _ = env.reset()
        g = torch.Generator().manual_seed(0)
        out = [obs]
        for _ in range(50):
            obs, reward, *_ = env.step(torch.randint(0, 5, (8, env.num_agents), generator=g))
            out += [obs, reward, env.engine.pos.clone()]
        return out

    assert all(torch.equal(a, b) for a, b in zip(play(True), play(False), strict=True))


def test_dqn_steps_without_a_round_trip_of_its_own():
    from mazearena.agents.policies import QNetwork
    from mazearena.training.algorithms.dqn import DQN, DQNConfig

    torch.manual_seed(0)
    envs = mazearena.make_vec("mazearena/Maze-v0", 8, seed=0, size=7, num_levels=20, max_episode_steps=10)
    q = QNetwork(envs.single_observation_space, envs.single_action_space.n, "cnn")
    algo = DQN(DQNConfig(num_envs=8, batch_size=16, learning_starts=32), envs, q, torch.device("cpu"), 10_000)
    algo.iteration(64)  # past learning_starts: every later step also learns
    real_metrics = algo.episodes.metrics
    algo.episodes.metrics = lambda: {}  # the once-per-iteration read is allowed; count the steps only
    with count_syncs() as counts:
        algo.envs.step = uncounted(algo.envs.step, counts)
        for _ in range(20):
            algo.iteration(8)  # one vector step (and one gradient step) each; their metrics read once
    algo.episodes.metrics = real_metrics
    assert counts["n"] <= 20 * 2  # the two loss means, read once at the end of each iteration; nothing per step
