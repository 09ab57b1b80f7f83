"""Team arenas: the rules on hand-made positions, the PettingZoo contract, and batched-vs-single equality."""

import functools
import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

from mazearena.envs import arena_v0
from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine, arena_layouts, base_distances
from mazearena.envs.engine.cells import ARENA_CHANNELS
from mazearena.envs.engine.common import UNREACHABLE

STAY, N, E, S, W, ATTACK = range(6)
MODES = ["tag", "ctf", "combat"]


def open_arena(
    mode: str, positions: list[tuple[int, int]], red: int, walls=(), backend: str = "auto", **cfg
) -> ArenaEngine:
    """A one-game engine on an empty 9x9 arena (border walls only) with agents placed by hand."""
    config = ArenaConfig(mode=mode, red=red, blue=len(positions) - red, size=9, **cfg)
    engine = ArenaEngine(1, config, autoreset=False, backend=backend)
    engine.reset(torch.tensor([0]))
    engine.walls[0] = True
    engine.walls[0, 1:-1, 1:-1] = False
    for y, x in walls:
        engine.walls[0, y, x] = True
    engine.pos[0] = torch.tensor(positions)
    engine.bases[0] = torch.tensor([[4, 1], [4, 7]])
    engine.base_dist[:] = base_distances(engine.walls, engine.bases)
    return engine


def step(engine: ArenaEngine, *actions: int):
    obs, reward, terminated, truncated, info = engine.step(torch.tensor([actions]))
    return reward[0].tolist(), terminated[0].tolist(), truncated[0].tolist(), info


# ---------------------------------------------------------------- rules
def test_moves_are_blocked_by_walls_and_by_agents_and_the_lower_index_wins():
    e = open_arena("tag", [(2, 2), (2, 4), (6, 6), (6, 3)], red=2, walls=[(1, 2)])
    step(e, N, W, STAY, STAY)  # red_0 into a wall; red_1 west to (2, 3)
    assert e.pos[0, 0].tolist() == [2, 2] and e.pos[0, 1].tolist() == [2, 3]
    step(e, STAY, W, STAY, STAY)  # into the cell red_0 holds: blocked
    assert e.pos[0, 1].tolist() == [2, 3]
    e = open_arena("ctf", [(3, 3), (3, 5), (6, 6), (6, 2)], red=2)
    step(e, E, W, STAY, STAY)  # both want (3, 4): red_0 (lower index) gets it
    assert e.pos[0, 0].tolist() == [3, 4] and e.pos[0, 1].tolist() == [3, 5]


def test_tag_chasers_catch_adjacent_runners_and_runners_leave_the_game():
    e = open_arena("tag", [(2, 2), (6, 6), (2, 4), (6, 2)], red=2, max_cycles=10)
    reward, terminated, _, info = step(e, E, STAY, STAY, STAY)  # red_0 moves next to blue_0
    assert terminated == [False, False, True, False]
    assert reward[2] == -1.0 and reward[0] == 1.0 and reward[1] == 1.0  # the chasing team shares the catch
    assert reward[3] == pytest.approx(0.1)  # the survivor earns 1 / max_cycles
    assert e.alive[0].tolist() == [True, True, False, True]
    reward, terminated, _, info = step(e, STAY, W, STAY, STAY)  # red_1 reaches blue_1 at (6, 2)... from (6, 5)
    reward, terminated, _, info = step(e, STAY, W, STAY, STAY)
    reward, terminated, _, info = step(e, STAY, W, STAY, STAY)
    assert terminated[3] and terminated[0] and terminated[1]  # last runner caught: the game is decided
    assert not info["active"][0, 2]


def test_ctf_pick_up_capture_and_win():
    e = open_arena("ctf", [(4, 6), (1, 1), (7, 7), (7, 6)], red=2, captures_to_win=1)
    step(e, E, STAY, STAY, STAY)  # red_0 steps on blue's flag at (4, 7)
    assert e.carrying[0].tolist() == [True, False, False, False]
    for _ in range(5):
        reward, terminated, _, _ = step(e, W, STAY, STAY, STAY)
    assert e.pos[0, 0].tolist() == [4, 2]
    reward, terminated, _, _ = step(e, W, STAY, STAY, STAY)  # home: captured
    assert reward == [1.0, 1.0, -1.0, -1.0]
    assert e.score[0].tolist() == [1, 0] and all(terminated)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_ctf_pickup_reward_shapes_the_game_zero_sum(backend):
    e = open_arena("ctf", [(4, 6), (1, 1), (7, 7), (7, 6)], red=2, pickup_reward=0.25)
    e.backend = backend
    e._bind_views()
    reward, *_ = step(e, E, STAY, STAY, STAY)  # red_0 picks up blue's flag
    assert reward == [0.25, 0.25, -0.25, -0.25]
    reward, *_ = step(e, W, STAY, STAY, STAY)  # carrying earns nothing more
    assert reward == [0.0] * 4
    with pytest.raises(ValueError, match="pickup_reward"):
        ArenaConfig(mode="ctf", pickup_reward=2.0)
    with pytest.raises(ValueError, match="flag_shaping must be in \\[0, 10\\]"):
        ArenaConfig(mode="ctf", flag_shaping=-1)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_ctf_flag_shaping_pays_the_steps_gained_and_sums_to_zero_over_a_trip(backend):
    e = open_arena("ctf", [(4, 4), (1, 1), (7, 7), (7, 6)], red=2, flag_shaping=2.0, captures_to_win=2)
    e.backend = backend
    e._bind_views()
    total = 0.0
    for action in [E, E, W]:  # two steps towards blue's flag at (4, 7), one back
        reward, *_ = step(e, action, STAY, STAY, STAY)
        assert reward[0] == pytest.approx(2.0 / 9 * (1 if action == E else -1))
        total += reward[0]
    for action in [E, E, E]:  # to the flag (a pick-up is a step like any other) ...
        total += step(e, action, STAY, STAY, STAY)[0][0]
    while e.carrying[0, 0]:  # ... and home: a capture
        total += step(e, W, STAY, STAY, STAY)[0][0]
    assert e.score[0, 0] == 1
    # shaping telescopes: gained steps back to the start minus the potential lost by the goal resetting
    start, now = 3 + 6, int(e.steps_to_goal()[0, 0])
    assert total == pytest.approx(1.0 + 2.0 / 9 * (start - now), abs=1e-5)


def test_ctf_tagged_carrier_drops_the_flag_and_respawns_at_base():
    e = open_arena("ctf", [(4, 6), (1, 1), (2, 7), (7, 7)], red=2)
    step(e, E, STAY, STAY, STAY)
    assert bool(e.carrying[0, 0])
    step(e, STAY, STAY, S, STAY)  # blue_0 moves next to the carrier, in blue's half
    assert not bool(e.carrying[0, 0])
    assert e.pos[0, 0].tolist() == [4, 1]  # the free cell nearest red's base (the base itself)


def test_combat_hits_first_in_line_of_sight_without_friendly_fire():
    # red_0 at (4, 1) faces east; red_1 at (4, 2) stands in the way of blue_0 at (4, 3)
    e = open_arena("combat", [(4, 1), (4, 2), (4, 3), (1, 7)], red=2, max_health=2)
    e.heading[0] = torch.tensor([1, 1, 3, 3])
    reward, *_ = step(e, ATTACK, STAY, STAY, STAY)
    assert e.health[0].tolist() == [2, 2, 2, 2] and reward[0] == 0.0  # the teammate blocks the shot
    reward, *_ = step(e, STAY, ATTACK, ATTACK, STAY)  # red_1 and blue_0 hit each other
    assert e.health[0].tolist() == [2, 1, 1, 2] and reward[1] == pytest.approx(0.1)
    reward, terminated, _, _ = step(e, STAY, ATTACK, STAY, STAY)
    assert terminated[2] and reward[2] == -1.0 and reward[1] == pytest.approx(1.1)  # hit + kill
    assert not bool(e.alive[0, 2])


def test_combat_last_team_standing_wins():
    e = open_arena("combat", [(4, 1), (4, 3)], red=1, max_health=1)
    e.heading[0] = torch.tensor([1, 3])
    reward, terminated, truncated, _ = step(e, ATTACK, STAY)
    assert terminated == [True, True] and reward[0] == pytest.approx(0.1 + 1 + 1) and reward[1] == -1.0


def test_truncation_at_max_cycles():
    e = open_arena("ctf", [(1, 1), (7, 7)], red=1, max_cycles=2)
    _, _, truncated, _ = step(e, STAY, STAY)
    assert truncated == [False, False]
    _, terminated, truncated, _ = step(e, STAY, STAY)
    assert truncated == [True, True] and terminated == [False, False]


# ---------------------------------------------------------------- layouts
@pytest.mark.parametrize("layout", ["maze", "rooms", "open"])
def test_arenas_are_point_symmetric_and_connected(layout):
    cfg = ArenaConfig(size=17, layout=layout)
    ids = torch.arange(64)
    walls, bases = arena_layouts(ids, cfg, torch.device("cpu"))
    assert torch.equal(walls, walls.flip(1, 2))
    assert torch.equal(bases[:, 1], 16 - bases[:, 0])
    dist = base_distances(walls, bases)
    assert bool(((dist < UNREACHABLE) == ~walls[:, None]).all())  # every floor cell reaches both bases
    again, _ = arena_layouts(ids[10:20], cfg, torch.device("cpu"))
    assert torch.equal(again, walls[10:20])  # a level does not depend on its batch


def test_spawns_are_distinct_and_in_the_team_half():
    e = ArenaEngine(32, ArenaConfig(red=8, blue=8, size=15))
    e.reset(torch.arange(32))
    flat = e.pos[..., 0] * 15 + e.pos[..., 1]
    assert all(len(set(row.tolist())) == 16 for row in flat)
    assert bool((e.pos[:, :8, 1] < 7).all()) and bool((e.pos[:, 8:, 1] > 7).all())
    assert not bool(e.walls.view(32, -1).gather(1, flat).any())


# ---------------------------------------------------------------- the PettingZoo contract
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("teams", [(1, 1), (2, 3), (8, 8)])
def test_pettingzoo_test_suite(mode, teams):
    kw = dict(mode=mode, red=teams[0], blue=teams[1], max_cycles=40)
    api_test(arena_v0.env(**kw), num_cycles=100)
    parallel_api_test(arena_v0.parallel_env(**kw), num_cycles=100)
    seed_test(functools.partial(arena_v0.env, **kw), num_cycles=60)
    parallel_seed_test(functools.partial(arena_v0.parallel_env, **kw), num_cycles=60)
    no_limit = dict(mode=mode, red=teams[0], blue=teams[1])
    module = types.SimpleNamespace(
        env=functools.partial(arena_v0.env, **no_limit),
        parallel_env=functools.partial(arena_v0.parallel_env, **no_limit),
    )
    max_cycles_test(module)


@pytest.mark.parametrize("mode", MODES)
def test_render_modes(mode):
    render_test(functools.partial(arena_v0.env, mode=mode, max_cycles=20))
    env = arena_v0.parallel_env(mode=mode, render_mode="rgb_array", size=11)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (11 * 24, 11 * 24, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 10  # walls, floor, both team colours, ...


@pytest.mark.parametrize("obs_mode", ["grid", "tokens", "both"])
def test_observations_match_their_spaces(obs_mode):
    env = arena_v0.parallel_env(mode="ctf", obs_mode=obs_mode, red=3, blue=2)
    obs, _ = env.reset(seed=1)
    for agent, o in obs.items():
        assert env.observation_space(agent).contains(o), agent
    assert env.state_space.contains(env.state())


def play(env, seed: int, steps: int, action_seed: int):
    """A trajectory of a parallel env under random actions, across episodes (reset without a seed)."""
    rng = np.random.default_rng(action_seed)
    out = []
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
            out.append(("reset", obs))
            continue
        actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
        out.append(env.step(actions))
    return out


def same(x, y) -> bool:
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, np.ndarray):
        return np.array_equal(x, y)
    return x == y


@pytest.mark.parametrize("mode", MODES)
def test_same_seed_same_whole_episodes(mode):
    kw = dict(mode=mode, red=2, blue=2, max_cycles=30)
    a = play(arena_v0.parallel_env(**kw), seed=5, steps=150, action_seed=0)
    b = play(arena_v0.parallel_env(**kw), seed=5, steps=150, action_seed=0)
    assert sum(1 for x in a if x[0] == "reset") >= 2  # several whole episodes
    assert same(a, b)
    c = play(arena_v0.parallel_env(**kw), seed=6, steps=150, action_seed=0)
    assert not same(a, c)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("obs_mode", ["grid", "tokens", "both"])
def test_parallel_env_and_vector_env_play_identically(mode, obs_mode):
    kw = dict(mode=mode, red=2, blue=3, max_cycles=25, obs_mode=obs_mode)
    n, seed = 6, 100
    venv = arena_v0.vector_env(num_envs=n, seed=seed, **kw)
    envs = [arena_v0.parallel_env(**kw) for _ in range(n)]
    vobs, _ = venv.reset()
    singles = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    rng = np.random.default_rng(0)
    names = venv.possible_agents

    space = venv.single_observation_space

    def agent_obs(obs, g, k):
        """One agent's observation, as the vector env hands it out: in the dtypes its space declares (the token
        mask once came out as bool against an int8 ``MultiBinary``)."""
        if isinstance(obs, dict):
            one = {key: v[g, k].numpy() for key, v in obs.items()}
            assert {key: v.dtype for key, v in one.items()} == {key: space[key].dtype for key in one}
        else:
            one = obs[g, k].numpy()
            assert one.dtype == space.dtype
        assert space.contains(one)
        return one

    for g in range(n):
        for k, name in enumerate(names):
            assert same(agent_obs(vobs, g, k), singles[g][name])
    resets = 0
    for _ in range(80):
        actions = torch.as_tensor(rng.integers(0, venv.single_action_space.n, (n, len(names))))
        vobs, vrew, vterm, vtrunc, info = venv.step(actions)
        for g, env in enumerate(envs):
            live = list(env.agents)
            obs, rew, term, trunc, _ = env.step({a: int(actions[g, names.index(a)]) for a in live})
            last = info["final_obs"] if bool(info["_final_obs"][g]) else vobs
            for a in live:
                k = names.index(a)
                assert bool(info["active"][g, k])
                assert same(agent_obs(last, g, k), obs[a])
                assert float(vrew[g, k]) == rew[a] and bool(vterm[g, k]) == term[a] and bool(vtrunc[g, k]) == trunc[a]
            if not env.agents:
                resets += 1
                fresh, _ = env.reset()
                for a in env.agents:
                    assert same(agent_obs(vobs, g, names.index(a)), fresh[a])
    assert resets >= n


# ---------------------------------------------------------------- fuzz
@settings(max_examples=30, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    red=st.integers(1, 6),
    blue=st.integers(1, 6),
    layout=st.sampled_from(["maze", "rooms", "open"]),
    size=st.sampled_from([11, 13, 17]),
    seed=st.integers(0, 2**40),
)
def test_fuzz_invariants_hold_over_many_random_episodes(mode, red, blue, layout, size, seed):
    cfg = dict(mode=mode, red=red, blue=blue, layout=layout, size=size, max_cycles=12, obs_mode="both")
    venv = arena_v0.vector_env(num_envs=64, seed=seed, **cfg)
    obs, _ = venv.reset()
    gen = torch.Generator().manual_seed(seed % 2**31)
    episodes = 0
    for _ in range(60):  # 64 games x 60 steps, at most 12 steps an episode: >= 320 episodes
        actions = torch.randint(0, venv.single_action_space.n, (64, venv.num_agents), generator=gen)
        obs, reward, terminated, truncated, info = venv.step(actions)
        e = venv.engine
        flat = e.pos[..., 0] * size + e.pos[..., 1]
        assert torch.isfinite(reward).all()
        assert not bool((e.walls.view(64, -1).gather(1, flat) & e.alive).any())  # nobody inside a wall
        for g in range(64):
            cells = flat[g][e.alive[g]].tolist()
            assert len(cells) == len(set(cells))  # never two agents in one cell
        assert not bool((reward != 0)[~info["active"]].any())  # no reward for agents out of the game
        assert not bool(((terminated | truncated) & ~info["active"]).any())
        assert bool((e.score <= e.config.captures_to_win).all())
        assert bool((e.health <= e.config.max_health).all())
        assert not bool((obs["mask"] & ~e.alive[:, :, None]).any())  # agents out of the game see nothing
        assert int(e.carrying.sum(1).max()) <= 2
        episodes += int(info["_final_obs"].sum())
    assert episodes >= 320


# ---------------------------------------------------------------- bad input
def test_bad_configs_name_the_value():
    with pytest.raises(ValueError, match="mode must be one of"):
        arena_v0.parallel_env(mode="soccer")
    with pytest.raises(ValueError, match=r"red \(team size\) must be an int in \[1, 16\], got 0"):
        arena_v0.parallel_env(red=0)
    with pytest.raises(ValueError, match="size 9 has room for 8 agents per team"):
        arena_v0.parallel_env(size=9, red=9)
    with pytest.raises(ValueError, match="size must be an odd int"):
        arena_v0.parallel_env(size=14)
    with pytest.raises(TypeError, match="got an unexpected keyword argument"):
        arena_v0.parallel_env(teams=3)
    with pytest.raises(ValueError, match="chasers must be 'red' or 'blue'"):
        arena_v0.parallel_env(chasers="green")


def test_bad_actions_name_the_agent():
    env = arena_v0.parallel_env(mode="tag", red=1, blue=1)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"red_0": 0, "blue_0": 0})
    env.reset(seed=0)
    with pytest.raises(TypeError, match="actions must be a dict"):
        env.step([0, 0])
    with pytest.raises(KeyError, match="unknown agent 'green_0'"):
        env.step({"red_0": 0, "blue_0": 0, "green_0": 1})
    with pytest.raises(ValueError, match="no action for live agent"):
        env.step({"red_0": 0})
    with pytest.raises(ValueError, match="action 7 of blue_0 is out of range"):
        env.step({"red_0": 0, "blue_0": 7})
    with pytest.raises(TypeError, match="action of red_0 must be an int"):
        env.step({"red_0": 1.5, "blue_0": 0})
    with pytest.raises(KeyError, match="unknown agent"):
        env.action_space("red_5")


def test_actions_for_agents_that_left_are_ignored_but_still_checked():
    """Vectorised MARL libraries send one action per possible agent every step, as PettingZoo's own
    conversions do; an agent that has left the game just does not act."""
    env = arena_v0.parallel_env(mode="combat", red=1, blue=2, max_cycles=50)
    env.reset(seed=3)
    env.engine.alive[0, 1] = False  # blue_0 has left
    env.agents = ["red_0", "blue_1"]
    before = env.engine.pos[0, 1].clone()
    obs, rewards, *_ = env.step({"red_0": 0, "blue_0": 2, "blue_1": 0})
    assert set(obs) == set(rewards) == {"red_0", "blue_1"}
    assert torch.equal(env.engine.pos[0, 1], before)
    with pytest.raises(ValueError, match="action 9 of blue_0 is out of range"):
        env.step({"red_0": 0, "blue_0": 9, "blue_1": 0})
    with pytest.raises(KeyError, match="unknown agent 'blue_7'"):
        env.step({"red_0": 0, "blue_1": 0, "blue_7": 0})


def test_infos_hold_numbers_only():
    env = arena_v0.parallel_env(mode="tag", red=2, blue=1)
    _, infos = env.reset(seed=0)
    assert infos == {a: {"level_id": infos[a]["level_id"], "team": 0 if a.startswith("red") else 1} for a in infos}
    *_, infos = env.step({a: 0 for a in env.agents})
    for info in infos.values():
        assert all(isinstance(torch.as_tensor(v), torch.Tensor) for v in info.values())


def test_vector_env_checks_actions():
    venv = arena_v0.vector_env(num_envs=3, seed=0, mode="combat", red=1, blue=2)
    venv.reset()
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 3\)"):
        venv.step(torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="actions must be integers"):
        venv.step(torch.zeros(3, 3))
    bad = torch.zeros(3, 3, dtype=torch.long)
    bad[1, 2] = 6
    with pytest.raises(ValueError, match="action 6 of agent blue_1 in env 1 is out of range"):
        venv.step(bad)
    with pytest.raises(ValueError, match="options\\['level_ids'\\] must hold 3 ids"):
        venv.reset(options={"level_ids": [1]})


@pytest.mark.parametrize("mode", MODES)
def test_compiled_kernels_play_exactly_as_torch(mode, device, host):
    # 300 games: above the kernels' parallel threshold; tags, respawns, deaths and resets all happen
    cfg = ArenaConfig(
        mode=mode,
        red=4,
        blue=3,
        size=11,
        max_cycles=30,
        obs_mode="both",
        layout="open",
        pickup_reward=0.3,
        flag_shaping=1.5,
    )
    # the torch rules on the test device (pytest --device), the compiled kernels on the CPU
    engines = [ArenaEngine(300, cfg, backend="torch", device=device), ArenaEngine(300, cfg, backend="numba")]
    first = [host(e.reset(torch.arange(300, device=e.device))) for e in engines]
    assert same({k: v.numpy() for k, v in first[0].items()}, {k: v.numpy() for k, v in first[1].items()})
    gen = torch.Generator().manual_seed(2)
    events = 0
    for _ in range(60):
        actions = torch.randint(0, cfg.num_actions, (300, cfg.num_agents), generator=gen)
        before = engines[0].pos.cpu().clone()
        (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) = (host(e.step(actions.to(e.device))) for e in engines)
        for key in o1:
            assert torch.equal(o1[key], o2[key]), key
        for x, y in [(r1, r2), (te1, te2), (tr1, tr2)] + [(i1[k], i2[k]) for k in ("active", "score", "_final_obs")]:
            assert torch.equal(x, y)
        assert torch.equal(engines[0].pos.cpu(), engines[1].pos) and torch.equal(
            engines[0].state().cpu(), engines[1].state()
        )
        jumps = ((engines[0].pos.cpu() - before).abs().sum(-1) > 1) & i1["active"] & ~i1["_final_obs"][:, None]
        events += int(jumps.sum()) + int(te1.sum())
    assert events > 50  # respawns (ctf) or agents leaving the game (tag, combat) were exercised


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_with_occlusion_walls_hide_what_is_behind_them(backend):
    # red at (4, 2) looks east along row 4: a wall at (4, 4) hides blue at (4, 5); blue at (2, 2) is in the open
    for occlusion in (False, True):
        engine = open_arena(
            "tag", [(4, 2), (4, 5), (2, 2)], red=1, walls=[(4, 4)], occlusion=occlusion, obs_mode="both"
        )
        engine.backend = backend
        obs = engine.observe()
        enemy = obs["grid"][0, 0, ARENA_CHANNELS.index("enemy")]  # red's view, 7x7, red at the centre (3, 3)
        hidden, seen = bool(enemy[3, 6]), bool(enemy[1, 3])
        assert seen and hidden != occlusion
        assert bool(obs["grid"][0, 0, ARENA_CHANNELS.index("wall"), 3, 5])  # the wall itself always shows
        assert obs["mask"][0, 0].tolist()[:3] == [True, not occlusion, True]
        # blue behind the wall does not see red either: sight is symmetric here
        assert bool(obs["mask"][0, 1, 0]) != occlusion


def test_sight_lines_cross_the_cells_between():
    from mazearena.envs.engine.arena_observe import _sight_lines

    lines = _sight_lines(7, "cpu")  # row-major 7x7, the agent at index 24
    assert lines.shape[0] == 49
    assert {tuple(c) for c in lines[24 + 3].tolist()} == {(0, 1), (0, 2), (0, 0)}  # three east: two between
    assert {tuple(c) for c in lines[24 + 1].tolist()} == {(0, 0)}  # a neighbour: nothing between


def test_vector_resets_without_a_seed_continue_the_seeded_stream():
    """After ``reset(seed=s)``, resets without a seed replay too (they once drew from an unseeded RNG)."""

    def levels(seed_at_reset: bool) -> list[list[int]]:
        env = arena_v0.vector_env(4, seed=None if seed_at_reset else 3, mode="tag")
        out = [env.reset(**({"seed": 3} if seed_at_reset else {}))[1]["level_id"].tolist()]
        out += [env.reset()[1]["level_id"].tolist() for _ in range(2)]
        return out

    first, again = levels(True), levels(True)
    assert first == again and first[1] != first[2] != first[0]
    assert levels(False) == levels(False)
