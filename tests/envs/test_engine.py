"""The rules, on hand-written levels placed into the engine's state."""

import pytest
import torch

from mazearena.envs.engine.cells import Cell, table
from mazearena.envs.engine.maze import MazeConfig, MazeEngine

CODES = {"#": Cell.WALL, ".": Cell.FLOOR, "G": Cell.GOAL, "k": Cell.KEY, "D": Cell.DOOR, "~": Cell.LAVA}
N, E, S, W = 0, 1, 2, 3


@pytest.fixture(params=["torch", "numba"])
def backend(request) -> str:
    """Every rule is checked on both CPU implementations: torch ops and the compiled kernels."""
    return request.param


def engine_with(rows: list[str], pos, heading=N, max_episode_steps=None, backend="auto", **cfg) -> MazeEngine:
    size = len(rows)
    engine = MazeEngine(1, MazeConfig(size=size, **cfg), max_episode_steps=max_episode_steps, backend=backend)
    engine.reset(torch.tensor([0]))
    grid = torch.tensor([[int(CODES[c]) for c in row] for row in rows], dtype=torch.uint8)
    engine.layout_grid(0).copy_(grid)
    engine.pos[0] = torch.tensor(pos)
    engine.heading[0] = heading
    return engine


def step(engine, action):
    obs, reward, terminated, truncated, info = engine.step(torch.tensor([action]))
    return obs, float(reward[0]), bool(terminated[0]), bool(truncated[0]), info


LEVEL = [
    "#######",
    "#..#..#",
    "#k.D.G#",
    "#..#..#",
    "#~.#..#",
    "#..#..#",
    "#######",
]


def test_walls_block_and_moves_follow_the_compass(backend):
    e = engine_with(LEVEL, (1, 1), backend=backend)
    step(e, N)
    assert e.pos[0].tolist() == [1, 1]  # wall to the north
    step(e, E)
    assert e.pos[0].tolist() == [1, 2] and int(e.heading[0]) == E
    step(e, E)
    assert e.pos[0].tolist() == [1, 2]  # wall
    step(e, S)
    assert e.pos[0].tolist() == [2, 2]


def test_door_needs_the_key_and_then_opens_for_good(backend):
    e = engine_with(LEVEL, (2, 2), backend=backend)
    step(e, E)
    assert e.pos[0].tolist() == [2, 2] and not bool(e.has_key[0])  # locked
    step(e, W)
    assert bool(e.has_key[0]) and int(e.layout_grid(0)[2, 1]) == Cell.FLOOR  # key picked up
    step(e, E)
    step(e, E)
    assert e.pos[0].tolist() == [2, 3] and int(e.layout_grid(0)[2, 3]) == Cell.FLOOR
    step(e, E)
    _, reward, terminated, truncated, info = step(e, E)
    assert terminated and not truncated and bool(info["is_success"][0])
    h = 4 * 7 * 7
    assert reward == pytest.approx(1 - 0.9 * 6 / h)


def test_lava_ends_the_episode_without_reward(backend):
    e = engine_with(LEVEL, (3, 1), backend=backend)
    _, reward, terminated, truncated, info = step(e, S)
    assert terminated and not truncated and reward == 0.0 and not bool(info["is_success"][0])


def test_time_limit_truncates_and_autoreset_keeps_the_final_observation(backend):
    e = engine_with(LEVEL, (1, 1), max_episode_steps=3, backend=backend)
    for _ in range(2):
        _, _, terminated, truncated, info = step(e, N)
        assert not terminated and not truncated
    before = e.observe().clone()
    obs, reward, terminated, truncated, info = step(e, N)
    assert truncated and not terminated and reward == 0.0
    assert bool(info["_final_obs"][0]) and torch.equal(info["final_obs"], before)
    assert int(e.t[0]) == 0 and int(e.episodes[0]) == 1  # a new episode has begun
    assert torch.equal(obs, e.observe())


def test_turn_actions_turn_and_go_forward(backend):
    e = engine_with(LEVEL, (1, 1), heading=N, actions="turn", backend=backend)
    step(e, 1)  # right
    assert int(e.heading[0]) == E and e.pos[0].tolist() == [1, 1]
    step(e, 2)  # forward
    assert e.pos[0].tolist() == [1, 2]
    step(e, 0)  # left
    step(e, 0)
    assert int(e.heading[0]) == W


def test_partial_view_is_centred_and_rotates_with_turn_actions(backend):
    e = engine_with(LEVEL, (2, 2), heading=E, view_size=3, backend=backend)
    obs = e.observe()[0]
    assert obs.shape == (len(table().channels), 3, 3)
    wall, door, key, agent = obs[0], obs[3], obs[2], obs[5]
    assert agent[1, 1] == 1 and agent.sum() == 1
    assert door[1, 2] == 1 and key[1, 0] == 1  # north-up: the door is east, the key west
    assert wall.tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1]]  # the walls of the door's column
    assert obs[6][1, 2] == 1  # facing east
    t = engine_with(LEVEL, (2, 2), heading=E, view_size=3, actions="turn", backend=backend)
    obs = t.observe()[0]
    assert obs[3][0, 1] == 1 and obs[2][2, 1] == 1  # rotated: the door ahead (up), the key behind
    assert obs[6][0, 1] == 1
    assert obs[0].tolist() == [[1, 0, 1], [0, 0, 0], [0, 0, 0]]  # those walls flank the door ahead


def test_full_view_shows_the_whole_grid(backend):
    e = engine_with(LEVEL, (2, 2), obs_mode="full", backend=backend)
    obs = e.observe()[0]
    assert obs.shape == (len(table().channels), 7, 7)
    assert int(obs[0].sum()) == sum(r.count("#") for r in LEVEL)
    assert obs[5][2, 2] == 1 and obs[1][2, 5] == 1


def test_has_key_plane(backend):
    e = engine_with(LEVEL, (2, 2), backend=backend)
    assert int(e.observe()[0, 7].sum()) == 0
    step(e, W)
    assert bool((e.observe()[0, 7] == 1).all())


def test_rgb_observation_shape(backend):
    e = engine_with(LEVEL, (2, 2), obs_mode="rgb", view_size=5, pixel_tile=6, backend=backend)
    obs = e.observe()
    assert obs.shape == (1, 30, 30, 3) and obs.dtype == torch.uint8


def test_engine_refuses_bad_arguments():
    with pytest.raises(ValueError, match="num_envs must be an int >= 1"):
        MazeEngine(0, MazeConfig())
    with pytest.raises(ValueError, match="max_episode_steps must be an int >= 0"):
        MazeEngine(1, MazeConfig(), max_episode_steps=-1)
    with pytest.raises(ValueError, match="obs_layout must be 'chw', 'hwc' or None"):
        MazeConfig(obs_layout="whc")
    with pytest.raises(ValueError, match="view_size must be an odd int"):
        MazeConfig(view_size=4)
    with pytest.raises(ValueError, match="obs_mode must be one of"):
        MazeConfig(obs_mode="pixels")
    with pytest.raises(ValueError, match="actions must be one of"):
        MazeConfig(actions="diagonal")
    e = MazeEngine(1, MazeConfig(num_levels=10))
    with pytest.raises(ValueError, match="level_id 10 is outside this env's level set"):
        e.reset(torch.tensor([0]), level_ids=torch.tensor([10]))


@pytest.mark.parametrize("obs_mode", ["partial", "full", "rgb"])
@pytest.mark.parametrize("actions", ["cardinal", "turn"])
@pytest.mark.parametrize("variant", ["goal", "key_door", "hazards", "memory"])
def test_compiled_kernels_play_exactly_as_torch(obs_mode, actions, variant, device, host):
    # 300 games: above the kernels' parallel threshold, with many episode ends and autoresets; the torch
    # rules on the test device (pytest --device), the compiled kernels on the CPU
    cfg = MazeConfig(size=9, obs_mode=obs_mode, actions=actions, variant=variant)
    engines = [MazeEngine(300, cfg, max_episode_steps=40, backend="torch", device=device)]
    engines.append(MazeEngine(300, cfg, max_episode_steps=40, backend="numba"))
    first = [host(e.reset(torch.arange(300, device=e.device))) for e in engines]
    assert torch.equal(first[0], first[1])
    gen = torch.Generator().manual_seed(1)
    ended = 0
    for _ in range(100):
        a = torch.randint(0, cfg.num_actions, (300,), generator=gen)
        (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) = (host(e.step(a.to(e.device))) for e in engines)
        for x, y in [(o1, o2), (r1, r2), (te1, te2), (tr1, tr2)] + [(i1[k], i2[k]) for k in i1]:
            assert torch.equal(x, y)
        ended += int(i1["_final_obs"].sum())
    assert ended > 300  # autoreset was exercised


@pytest.mark.parametrize("num_levels", [0, 50])
def test_compiled_resets_draw_what_torch_draws_for_any_seed(num_levels):
    # the kernels' hash runs on uint64: seeds and episode numbers up to 2**62 draw the same levels and starts
    seeds = torch.tensor([0, 1, 2**31, 2**32 + 7, 2**62 - 1, 2**62 - 2, 123456789012345, 5])
    cfg = MazeConfig(size=9, num_levels=num_levels, start_level=10**9)
    engines = [MazeEngine(8, cfg, backend=b) for b in ("torch", "numba")]
    for e in engines:
        e.reset(seeds)
        e.episodes.add_(torch.tensor([0, 2**40, 2**62 - 9, 3, 2**33, 0, 7, 2**61]))
        e.reset_next(torch.tensor([1, 2, 4, 7]))
        e.reset_next(torch.tensor([0, 7]))
    want, got = (e.state_dict() for e in engines)
    for name in want:
        assert torch.equal(want[name], got[name]), name


def test_backend_is_checked():
    with pytest.raises(ValueError, match="backend must be one of"):
        MazeEngine(1, MazeConfig(), backend="jax")
    with pytest.raises(ValueError, match="backend 'numba' runs on the CPU only"):
        MazeEngine(1, MazeConfig(), device="meta", backend="numba")


@pytest.mark.parametrize("kind", ["maze", "arena"])
def test_a_copied_or_pickled_engine_plays_as_the_original(kind):
    import copy

    import cloudpickle  # as vector-env wrappers copy envs (SuperSuit, SB3's subprocess envs)

    from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine

    if kind == "maze":
        engine, actions = MazeEngine(8, MazeConfig(size=9)), 4
    else:
        engine, actions = ArenaEngine(8, ArenaConfig(mode="combat")), 6
    engine.reset(torch.arange(8))
    copies = [copy.deepcopy(engine), cloudpickle.loads(cloudpickle.dumps(engine))]
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):
        shape = (8,) if kind == "maze" else (8, engine.config.num_agents)
        act = torch.randint(0, actions, shape, generator=gen)
        out = engine.step(act)[0]
        for other in copies:
            assert torch.equal(other.step(act)[0], out)  # the copies' kernels write into their own tensors
    assert int(out.sum()) > 0
