"""Scripted NPCs and scenarios: behaviours do what their names say; scenarios expose only focal agents."""

import numpy as np
import pytest
import torch

from mazearena.envs import arena_v0
from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine, base_distances
from mazearena.envs.engine.common import UNREACHABLE, relax, shortest_steps
from mazearena.envs.engine.layouts import LayoutConfig, generate
from mazearena.envs.npcs import NpcController, NpcSpec
from mazearena.envs.scenarios import HELDOUT, SCENARIOS, TRAIN, scenario

STAY, N, E, S, W, ATTACK = range(6)


def open_arena(mode, positions, red, **cfg) -> ArenaEngine:
    engine = ArenaEngine(1, ArenaConfig(mode=mode, red=red, blue=len(positions) - red, size=11, **cfg), autoreset=False)
    engine.reset(torch.tensor([0]))
    engine.walls[0] = True
    engine.walls[0, 1:-1, 1:-1] = False
    engine.pos[0] = torch.tensor(positions)
    engine.bases[0] = torch.tensor([[5, 1], [5, 9]])
    engine.base_dist[:] = base_distances(engine.walls, engine.bases)
    return engine


def npc_actions(engine, npcs: dict[int, NpcSpec]) -> list[int]:
    return NpcController(engine, npcs).act(None, None)[0][0].tolist()


def test_breadth_first_search_matches_relaxation():
    grid = generate(torch.arange(40), LayoutConfig(size=15, loops=0.2, rooms=2)).grid
    passable = grid != 1
    sources = torch.zeros_like(passable)
    sources[:, 1, 1] = True
    sources[::3, 13, 13] = True
    expected = relax(torch.where(sources, 0, UNREACHABLE), passable)
    assert torch.equal(shortest_steps(sources, passable), expected)
    assert torch.equal(shortest_steps(sources[:1], passable[:1]), expected[:1])  # serial path


def test_chase_flee_and_guard_move_the_way_they_should():
    e = open_arena("tag", [(5, 3), (5, 7)], red=1)
    assert npc_actions(e, {0: NpcSpec("chase", epsilon=0.0)}) == [E]
    assert npc_actions(e, {1: NpcSpec("flee", epsilon=0.0)}) == [E]
    e = open_arena("ctf", [(5, 6), (2, 2)], red=1)  # red_0 far from its base (5, 1), no enemy near it
    assert npc_actions(e, {0: NpcSpec("guard", epsilon=0.0, guard_radius=2)}) == [W]


def test_flag_runner_goes_for_the_flag_then_home():
    e = open_arena("ctf", [(5, 7), (1, 1)], red=1)
    assert npc_actions(e, {0: NpcSpec("flag_runner", epsilon=0.0)}) == [E]
    e.carrying[0, 0] = True
    assert npc_actions(e, {0: NpcSpec("flag_runner", epsilon=0.0)}) == [W]


def test_combat_npcs_attack_an_enemy_in_line():
    e = open_arena("combat", [(5, 3), (5, 6)], red=1)
    e.heading[0] = torch.tensor([1, 3])
    assert npc_actions(e, {0: NpcSpec("chase", epsilon=0.0), 1: NpcSpec("flee", epsilon=0.0)})[0] == ATTACK


def test_epsilon_one_is_uniformly_random_and_replays():
    e = ArenaEngine(512, ArenaConfig(mode="tag"))
    e.reset(torch.arange(512))
    first = NpcController(e, {0: NpcSpec("chase", epsilon=1.0)}).act(None, None)[0]
    again = NpcController(e, {0: NpcSpec("chase", epsilon=1.0)}).act(None, None)[0]
    assert torch.equal(first, again)
    counts = torch.bincount(first[:, 0], minlength=5).float() / 512
    assert bool((counts > 0.12).all()) and bool((counts < 0.28).all())


def test_npcs_catch_a_random_runner_and_sharper_npcs_catch_it_sooner():
    lengths = {}
    for eps in (0.0, 0.6):
        venv = arena_v0.vector_env(num_envs=64, seed=0, mode="tag", red=2, blue=1, max_cycles=60, size=11)
        venv.reset()
        control = NpcController(venv.engine, {0: NpcSpec("chase", epsilon=eps), 1: NpcSpec("chase", epsilon=eps)})
        gen = torch.Generator().manual_seed(0)
        done = []
        for _ in range(60):
            actions = torch.randint(0, 5, (64, 3), generator=gen)
            actions[:, :2] = control.act(None, None)[0]
            _, _, _, _, info = venv.step(actions)
            done.append(info["episode_length"][info["_final_obs"]])
        lengths[eps] = torch.cat(done).float()
    assert len(lengths[0.0]) > 48 and float(lengths[0.0].mean()) < 30  # most runners are caught well in time
    assert float(lengths[0.0].mean()) < float(lengths[0.6].mean())


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenarios_expose_only_focal_agents(name):
    sc = scenario(name)
    env = arena_v0.parallel_env(scenario=name)
    assert env.possible_agents == sc.focal(env.config) and env.possible_agents
    assert not set(env.possible_agents) & set(sc.npcs)
    obs, _ = env.reset(seed=0)
    assert set(obs) == set(env.possible_agents)
    rng = np.random.default_rng(0)
    for _ in range(30):
        if not env.agents:
            env.reset()
        env.step({a: int(rng.integers(env.action_space(a).n)) for a in env.agents})


def test_every_training_scenario_has_a_heldout_twin_with_other_npcs():
    assert TRAIN and HELDOUT
    for name in TRAIN:
        twin = scenario(f"{name}_heldout")
        assert twin.heldout and twin.config == scenario(name).config and twin.npcs != scenario(name).npcs


def test_scenario_parallel_and_vector_envs_play_identically():
    name, n, seed = "ctf_3v3_vs_guards", 4, 7
    venv = arena_v0.vector_env(num_envs=n, seed=seed, scenario=name, max_cycles=20)
    envs = [arena_v0.parallel_env(scenario=name, max_cycles=20) for _ in range(n)]
    vobs, _ = venv.reset()
    for i, env in enumerate(envs):
        obs, _ = env.reset(seed=seed + i)
        assert all(np.array_equal(obs[a], vobs[i, k].numpy()) for k, a in enumerate(venv.possible_agents))
    rng = np.random.default_rng(1)
    for _ in range(50):
        actions = torch.as_tensor(rng.integers(0, 5, (n, 3)))
        vobs, vrew, *_, info = venv.step(actions)
        for i, env in enumerate(envs):
            obs, rew, *_ = env.step(
                {a: int(actions[i, k]) for k, a in enumerate(venv.possible_agents) if a in env.agents}
            )
            last = info["final_obs"] if bool(info["_final_obs"][i]) else vobs
            for k, a in enumerate(venv.possible_agents):
                if a in obs:
                    assert np.array_equal(obs[a], last[i, k].numpy()) and rew[a] == float(vrew[i, k])
            if not env.agents:
                env.reset()


def test_bad_scenarios_and_npcs_name_the_value():
    with pytest.raises(ValueError, match="unknown scenario 'tag_9v9'"):
        arena_v0.parallel_env(scenario="tag_9v9")
    with pytest.raises(ValueError, match=r"fixes \['red'\]"):
        arena_v0.parallel_env(scenario="tag_2v1_vs_fleeing_npc", red=3)
    with pytest.raises(ValueError, match="behaviour must be one of"):
        NpcSpec("dance")
    with pytest.raises(ValueError, match="epsilon must be a number in"):
        NpcSpec("chase", epsilon=1.5)
    with pytest.raises(TypeError, match="got an unexpected keyword argument"):
        arena_v0.parallel_env(scenario="tag_2v1_vs_fleeing_npc", speed=2)


def test_npcs_are_actors_that_read_the_game_not_observations():
    from mazearena.actor import Actor

    venv = arena_v0.vector_env(2, seed=0, mode="tag", red=1, blue=1)
    venv.reset(seed=0)
    control = NpcController(venv.engine, {1: NpcSpec("chase", epsilon=0.0)})
    assert isinstance(control, Actor) and control.initial_state(2, "cpu") is None
    actions, state = control.act(None, "kept")
    assert actions.shape == (2, 1) and state == "kept"


def test_ctf_defender_waits_next_to_its_flag_not_on_it():
    e = open_arena("ctf", [(5, 3), (5, 9)], red=1)  # red base (5, 1); the enemy far away
    assert npc_actions(e, {0: NpcSpec("ctf_defender", epsilon=0.0)}) == [W]
    e.pos[0, 0] = torch.tensor([5, 2])
    assert npc_actions(e, {0: NpcSpec("ctf_defender", epsilon=0.0)}) == [STAY]


def test_ctf_raider_waits_beyond_the_guards_reach_and_brings_the_flag_home():
    e = open_arena("ctf", [(5, 2), (5, 9)], red=1)  # the blue guard on its flag (5, 9)
    spec = {0: NpcSpec("ctf_raider", epsilon=0.0, guard_radius=3)}
    for _ in range(12):
        e.step(torch.tensor([[npc_actions(e, spec)[0], STAY]]))
    assert int(e.base_dist[0, 1][tuple(e.pos[0, 0])]) == 5  # guard_radius + 2 from the flag: out of reach
    e.pos[0, 1] = torch.tensor([1, 5])  # the guard drawn off: the raider runs for the flag
    before = int(e.base_dist[0, 1][tuple(e.pos[0, 0])])
    e.step(torch.tensor([[npc_actions(e, spec)[0], STAY]]))
    assert int(e.base_dist[0, 1][tuple(e.pos[0, 0])]) == before - 1
    e.carrying[0, 0] = True
    assert npc_actions(e, spec) == [W]


def test_ctf_team_behaviours_need_ctf():
    e = open_arena("tag", [(5, 3), (5, 7)], red=1)
    with pytest.raises(ValueError, match="ctf_\\* behaviours play capture the flag only"):
        NpcController(e, {0: NpcSpec("ctf_lurer")})


def test_the_3v2_scripted_team_wins_where_simple_teams_do_not():
    from mazearena.agents.baselines import play_scripted

    name = "ctf_3v2_vs_guard_and_runner_heldout"
    scripted = play_scripted(name, games=64)
    runners = play_scripted(name, dict.fromkeys(("red_0", "red_1", "red_2"), NpcSpec("flag_runner", epsilon=0.0)), 64)
    assert (scripted["winner"] == 0).mean() >= 0.65 > (runners["winner"] == 0).mean() + 0.3
    assert (scripted["winner"] == 1).mean() <= 0.05  # its defender keeps the runner from scoring


def test_scripted_games_replay_exactly_on_both_backends():
    from mazearena.agents.baselines import play_scripted

    name = "ctf_3v2_vs_guard_and_runner"
    runs = [play_scripted(name, games=12, seed=3, start_level=0, num_levels=50, backend=b) for b in ("torch", "numba")]
    runs.append(play_scripted(name, games=12, seed=3, start_level=0, num_levels=50))
    for other in runs[1:]:
        assert all(np.array_equal(runs[0][k], other[k]) for k in runs[0])


def test_a_scripted_team_must_fill_the_focal_seats():
    from mazearena.agents.baselines import play_scripted
    from mazearena.envs.scenarios import Scenario

    bad = Scenario(
        "x", "", {"mode": "ctf", "red": 2, "blue": 1}, {"blue_0": NpcSpec("guard")}, scripted={"red_0": NpcSpec()}
    )
    with pytest.raises(ValueError, match="scripted team must play exactly its focal agents"):
        bad.arena_config()
    with pytest.raises(ValueError, match="team must name exactly the focal agents"):
        play_scripted("ctf_3v2_vs_guard_and_runner", {"red_0": NpcSpec("random")}, games=2)
    with pytest.raises(ValueError, match="has no scripted team"):
        play_scripted("tag_2v1_vs_fleeing_npc", games=2)


def test_game_records_tell_what_each_agent_of_a_ctf_team_did():
    from mazearena.agents.episodes import play_games

    name = "ctf_3v2_vs_guard_and_runner_heldout"
    env = arena_v0.vector_env(16, seed=0, scenario=name, num_levels=0, start_level=10**6)
    team = NpcController(env.engine, {i: scenario(name).scripted[f"red_{i}"] for i in range(3)})
    records = play_games(env, team, 32, team=0, subset=False)
    captures = np.sum([records[f"captures/red_{i}"] for i in range(3)], 0)
    assert np.array_equal(captures, records["score/red"]) and captures.sum() > 0  # every point is a capture
    assert np.mean(records["home/red_0"]) > 0.8 > np.mean(records["home/red_2"])  # the defender stays home
    assert np.mean(records["pickups/red_2"]) >= np.mean(records["captures/red_2"]) > 0.5  # the raider scores
    assert np.mean(records["pickups/red_0"]) == 0 and np.mean(records["tagged/red_1"]) > 0  # the lurer pays
