import numpy as np
import pytest
import torch

import mazearena


def make(n=8, **kwargs):
    env = mazearena.make_vec("mazearena/Maze-v0", n, seed=0, size=7, **kwargs)
    env.reset()
    return env


def test_tensors_stay_torch_on_the_device(device):
    env = make(device=device)
    obs, reward, terminated, truncated, info = env.step(torch.zeros(8, dtype=torch.long, device=device))
    for x in (obs, reward, terminated, truncated, info["is_success"], info["final_obs"]):
        assert isinstance(x, torch.Tensor) and x.device.type == device
    assert obs.shape == (8, *env.single_observation_space.shape) and obs.dtype == torch.int8  # MultiBinary planes
    assert reward.dtype == torch.float32 and terminated.dtype == torch.bool
    assert env.observation_space.shape == (8, *env.single_observation_space.shape)
    assert env.metadata["autoreset_mode"].value == "SameStep"


def test_numpy_actions_are_accepted():
    env = make()
    env.step(np.ones(8, dtype=np.int64))
    env.step(np.ones(8, dtype=np.int32))


@pytest.mark.parametrize(
    "actions,error,match",
    [
        (torch.zeros(7, dtype=torch.long), ValueError, "actions must have shape \\(8,\\), got \\(7,\\)"),
        (torch.zeros(8, 1, dtype=torch.long), ValueError, "actions must have shape"),
        (torch.zeros(8), TypeError, "actions must be integers, got dtype torch.float32"),
        (np.zeros(8), TypeError, "actions must be integers, got dtype float64"),
        (torch.tensor([0, 0, 0, 4, 0, 0, 0, 0]), ValueError, "action 4 of env 3 is out of range: valid actions are 0"),
        ([0] * 8, TypeError, "actions must be a torch tensor or numpy array, got list"),
    ],
)
def test_bad_action_batches_fail_with_clear_errors(actions, error, match):
    with pytest.raises(error, match=match):
        make().step(actions)


def test_make_vec_refuses_bad_arguments():
    with pytest.raises(ValueError, match="unknown env id 'mazearena/Nope-v0'; mazearena's vector envs: mazearena/"):
        mazearena.make_vec("mazearena/Nope-v0", 4)
    with pytest.raises(ValueError, match="num_envs must be an int >= 1"):
        mazearena.make_vec("mazearena/Maze-v0", 0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            mazearena.make_vec("mazearena/Maze-v0", 2, device="cuda")
    with pytest.raises(ValueError, match="device must be a torch device"):
        mazearena.make_vec("mazearena/Maze-v0", 2, device="gpu0")
    with pytest.raises(TypeError, match="got an unexpected keyword argument"):
        mazearena.make_vec("mazearena/Maze-v0", 2, sizes=5)


def test_step_before_reset_is_an_error():
    env = mazearena.make_vec("mazearena/Maze-v0", 2)
    with pytest.raises(RuntimeError, match="call reset\\(\\) before step\\(\\)"):
        env.step(torch.zeros(2, dtype=torch.long))


def test_reset_with_level_ids_and_seed_lists():
    env = mazearena.make_vec("mazearena/Maze-v0", 3, size=7)
    _, info = env.reset(seed=[5, 6, 7], options={"level_ids": [10, 10, 11]})
    assert info["level_id"].tolist() == [10, 10, 11]
    g = env.unwrapped.engine
    assert torch.equal(g.layout_grid(0), g.layout_grid(1))
    with pytest.raises(ValueError, match="must hold 3 ids"):
        env.reset(options={"level_ids": [1]})
    with pytest.raises(ValueError, match="a list of 3 ints"):
        env.reset(seed=[1, 2])


def test_unlimited_levels_with_prefetch_match_a_fresh_generation():
    # Levels handed out by the prefetching source are exactly those a fresh generate() gives.
    from mazearena.envs.engine.layouts import generate

    env = make(n=128, max_episode_steps=5)
    engine = env.unwrapped.engine
    for _ in range(30):
        env.step(torch.randint(0, 4, (128,)))
    fresh = generate(engine.level_ids, engine.config)
    opened = [engine.layout_grid(i).clone() for i in range(128)]
    for i in range(128):
        g = fresh.grid[i]
        # keys taken and doors opened show in the live grid; everything else is identical
        assert torch.equal(opened[i], g)


def test_render_returns_a_frame_per_game():
    env = mazearena.make_vec("mazearena/Maze-v0", 2, size=7, render_mode="rgb_array")
    env.reset(seed=0)
    frames = env.render()
    assert len(frames) == 2 and frames[0].shape == (7 * 32, 7 * 32, 3)
