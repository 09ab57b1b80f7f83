"""TorchRL and RLlib, the calls the README gives. TorchRL is in the ``interop`` extra (and so in ``dev``): its tests
run in the default suite. RLlib is heavy and pins its own ranges: its tests skip unless it is installed (a separate
environment with ``pip install -e . ray[rllib]`` and pytest runs them)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.envs import arena_v0


@pytest.fixture(scope="module")
def torchrl():
    return pytest.importorskip("torchrl")


def rollout_checked(env, steps: int):
    from torchrl.envs.utils import check_env_specs

    check_env_specs(env)
    return env.rollout(steps, break_when_any_done=False)


@pytest.mark.parametrize("autoreset_mode", ["SameStep", "Disabled"])
def test_torchrl_on_gymnasiums_vector_env(torchrl, autoreset_mode):
    from torchrl.envs import GymWrapper

    env = GymWrapper(gym.make_vec("mazearena/Maze-v0", num_envs=4, size=7, autoreset_mode=autoreset_mode))
    assert rollout_checked(env, 100).batch_size == (4, 100)


def test_torchrl_on_the_torch_vector_env(torchrl):
    from torchrl.envs import GymWrapper

    td = rollout_checked(GymWrapper(mazearena.make_vec("mazearena/Maze-v0", 4, size=7, seed=0)), 100)
    assert td.batch_size == (4, 100) and td["next", "reward"].min() >= 0


@pytest.mark.parametrize("env_id", ["mazearena/Maze-v0", "mazearena/MazeMemory-v0"])
@pytest.mark.parametrize("options", [{}, {"obs_mode": "full"}, {"obs_layout": "hwc"}, {"obs_mode": "rgb"}])
def test_torchrl_on_single_envs_as_a_torchrl_user_types_it(torchrl, env_id, options):
    """``GymEnv("mazearena/Maze-v0")``: the one-hot planes (an N-D MultiBinary, which TorchRL's own conversion
    reads as 1-D) become a Binary spec of their shape, int8 as the env hands them out."""
    from torchrl.envs import GymEnv, GymWrapper, SerialEnv

    td = rollout_checked(GymEnv(env_id, **options), 50)
    obs = td["pixels" if options.get("obs_mode") == "rgb" else "observation"]  # TorchRL's name for images
    assert td.batch_size == (50,) and obs.shape[1:] == gym.make(env_id, **options).observation_space.shape
    assert obs.dtype == (torch.uint8 if options.get("obs_mode") == "rgb" else torch.int8)
    assert rollout_checked(GymWrapper(gym.make(env_id, **options)), 20).batch_size == (20,)
    assert rollout_checked(SerialEnv(2, lambda: GymEnv(env_id, **options)), 20).batch_size == (2, 20)
    # the recipe given before the plain call worked keeps working
    planes = GymWrapper(gym.wrappers.DtypeObservation(gym.make(env_id, **options), np.uint8))
    assert rollout_checked(planes, 20).batch_size == (20,)


@pytest.mark.parametrize(
    "make",
    [
        lambda: arena_v0.parallel_env(mode="tag", size=9, max_cycles=30),
        lambda: arena_v0.env(mode="ctf", size=9, max_cycles=20),
        lambda: arena_v0.parallel_env(scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=30),
    ],
    ids=["parallel", "aec", "scenario"],
)
def test_torchrl_on_the_arenas(torchrl, make):
    from torchrl.envs import PettingZooWrapper

    assert rollout_checked(PettingZooWrapper(env=make(), use_mask=True), 60).batch_size == (60,)


@pytest.fixture(scope="module")
def rllib():
    pytest.importorskip("ray.rllib")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


SMALL_VIEW_FILTERS = {"conv_filters": [[16, [3, 3], 1], [32, [3, 3], 1]]}  # RLlib's defaults are for 10x10 and up


def train_once(cfg) -> float:
    algo = cfg.training(train_batch_size_per_learner=256, minibatch_size=64, num_epochs=1).build_algo()
    try:
        return algo.train()["env_runners"]["num_env_steps_sampled_lifetime"]
    finally:
        algo.stop()


@pytest.mark.slow
def test_rllib_ppo_on_a_maze(rllib):
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    register_env("maze", lambda c: gym.wrappers.DtypeObservation(gym.make("mazearena/Maze-v0", **c), np.float32))
    cfg = (
        PPOConfig()
        .environment("maze", env_config={"size": 7, "obs_layout": "hwc"})
        .rl_module(model_config=SMALL_VIEW_FILTERS)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
    )
    assert train_once(cfg) >= 256


@pytest.mark.slow
def test_rllib_ppo_with_a_shared_policy_on_an_arena(rllib):
    ss = pytest.importorskip("supersuit")
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    def make(_):
        env = arena_v0.parallel_env(mode="tag", size=9, max_cycles=30, obs_layout="hwc")
        return ParallelPettingZooEnv(ss.dtype_v0(env, "float32"))

    register_env("arena", make)
    cfg = (
        PPOConfig()
        .environment("arena")
        .rl_module(model_config=SMALL_VIEW_FILTERS)
        .multi_agent(policies={"shared"}, policy_mapping_fn=lambda agent_id, *args, **kwargs: "shared")
        .env_runners(num_env_runners=0)
    )
    assert train_once(cfg) >= 256
