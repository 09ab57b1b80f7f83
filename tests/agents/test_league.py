"""Self-play: the mirror that lets one policy play either team, the league's sampling, the self-play env,
exact continuation of self-play training, and the league's win-rate table."""

import copy

import pytest
import torch

from mazearena.agents.league import (
    League,
    LeagueConfig,
    SelfPlayVectorEnv,
    TeamPolicy,
    mirror_actions,
    mirror_obs,
    play_match,
    win_rate_table,
)
from mazearena.agents.policies import MultiAgentActorCritic
from mazearena.envs import arena_v0
from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine
from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig

CPU = torch.device("cpu")


def _turned(engine: ArenaEngine) -> ArenaEngine:
    """The same games turned 180 degrees with the teams swapped (red i <-> blue i)."""
    cfg, s, k = engine.config, engine.config.size, engine.config.red
    swap = torch.cat([torch.arange(k, 2 * k), torch.arange(k)])
    state = engine.state_dict()
    turned = copy.deepcopy(engine)
    state = {
        **state,
        "walls": state["walls"].flip(-2, -1),
        "bases": (s - 1 - state["bases"]).flip(1),
        "base_dist": state["base_dist"].flip(1).flip(-2, -1),
        "pos": (s - 1 - state["pos"])[:, swap],
        "alive": state["alive"][:, swap],
        "health": state["health"][:, swap],
        "carrying": state["carrying"][:, swap],
        "score": state["score"].flip(1),
    }
    turned.load_state_dict(state)
    assert cfg.red == cfg.blue
    return turned


@pytest.mark.parametrize("obs_mode", ["grid", "tokens"])
@pytest.mark.parametrize("mode", ["ctf", "combat"])
def test_the_mirror_shows_each_team_the_game_the_other_sees(mode, obs_mode):
    config = ArenaConfig(mode=mode, red=2, blue=2, size=11, obs_mode=obs_mode)
    engine = ArenaEngine(16, config)
    engine.reset(torch.arange(16))
    torch.manual_seed(0)
    for _ in range(10):  # move around so flags, carriers and health differ from the start
        engine.step(torch.randint(0, config.num_actions, (16, 4)))
    assert torch.equal(engine.walls, engine.walls.flip(-2, -1))  # arenas are point-symmetric
    obs, turned = engine.observe(), _turned(engine).observe()
    if obs_mode == "grid":
        assert torch.equal(mirror_obs(obs[:, 2:]), turned[:, :2])  # blue seen turned = red of the turned game
        assert torch.equal(mirror_obs(obs[:, :2]), turned[:, 2:])
    else:
        mirrored = mirror_obs({k: v[:, 2:] for k, v in obs.items()})
        assert torch.equal(mirrored["mask"], turned["mask"][:, :2])
        assert torch.equal(mirrored["tokens"], turned["tokens"][:, :2])


def test_mirrored_actions_swap_opposite_moves_and_undo_themselves():
    actions = torch.arange(6)
    assert mirror_actions(actions).tolist() == [0, 3, 4, 1, 2, 5]
    assert torch.equal(mirror_actions(mirror_actions(actions)), actions)


def test_league_samples_latest_or_uniform_and_keeps_the_first_snapshot():
    net = torch.nn.Linear(2, 2)
    league = League(LeagueConfig(latest_prob=1.0, max_snapshots=3), seed=0)
    with pytest.raises(RuntimeError, match="empty"):
        league.sample()
    for it in range(5):
        league.add(net, it)
    assert league.iterations == [0, 3, 4] and league.sample() == 2
    league.cfg = LeagueConfig(latest_prob=0.0, max_snapshots=3)
    assert set(league.sample() for _ in range(200)) == {0, 1, 2}
    state = copy.deepcopy(league.state_dict())
    draws = [league.sample() for _ in range(20)]
    league.load_state_dict(state)
    assert [league.sample() for _ in range(20)] == draws


def _self_play(team=0, seed=0, groups=2, mode="ctf", **kw):
    torch.manual_seed(seed)
    base = arena_v0.vector_env(8, seed=seed, mode=mode, red=2, blue=2, size=11, max_cycles=20)
    policy = MultiAgentActorCritic(base.single_observation_space, base.state_space, 2, base.single_action_space.n)
    league = League(LeagueConfig(snapshot_every=2, opponent_groups=groups, **kw), seed=seed)
    return SelfPlayVectorEnv(base, policy, league, team), policy


@pytest.mark.parametrize("team", [0, 1])
def test_self_play_env_hands_one_team_to_the_learner_and_the_other_to_the_league(team):
    envs, policy = _self_play(team)
    assert envs.possible_agents == [f"{('red', 'blue')[team]}_{i}" for i in range(2)]
    obs, info = envs.reset()
    assert obs.shape[:2] == (8, 2) and info["alive"].shape == (8, 2) and len(envs.league) == 1
    seen = []
    real = envs.envs.step
    envs.envs.step = lambda full: (seen.append(full.clone()), real(full))[1]
    mine = torch.randint(0, 5, (8, 2))
    obs, reward, terminated, truncated, info = envs.step(mine)
    assert torch.equal(seen[0][:, [0, 1] if team == 0 else [2, 3]], mine)
    assert reward.shape == terminated.shape == truncated.shape == info["active"].shape == (8, 2)
    with pytest.raises(ValueError, match="shape"):
        envs.step(torch.zeros(8, 4, dtype=torch.long))


def test_scripted_blocks_play_the_npc_team_mixed_into_the_league():
    from mazearena.envs.npcs import NpcSpec

    torch.manual_seed(0)
    base = arena_v0.vector_env(8, seed=0, mode="ctf", red=2, blue=2, size=11, max_cycles=20)
    policy = MultiAgentActorCritic(base.single_observation_space, base.state_space, 2, base.single_action_space.n)
    league = League(LeagueConfig(opponent_groups=4, scripted_groups=1))
    npcs = [NpcSpec("guard", epsilon=0.0), NpcSpec("flag_runner", epsilon=0.0)]
    envs = SelfPlayVectorEnv(base, policy, league, 0, npcs)
    envs.reset()
    assert len(envs.opponents) == 3 and envs._scripted_rows == slice(0, 2)
    seen = []
    real = base.step
    base.step = lambda full: (seen.append(full.clone()), real(full))[1]
    for _ in range(5):
        expected = envs.npcs.act(None, None)[0][:2]
        envs.step(torch.zeros(8, 2, dtype=torch.long))
        assert torch.equal(seen[-1][:2, 2:], expected)
    with pytest.raises(ValueError, match="one NPC spec per agent"):
        SelfPlayVectorEnv(base, policy, league, 0, npcs[:1])
    with pytest.raises(ValueError, match="scripted_groups"):
        LeagueConfig(opponent_groups=2, scripted_groups=2)


def test_self_play_setups_that_cannot_work_are_named():
    with pytest.raises(ValueError, match="ctf or combat"):
        _self_play(mode="tag")
    with pytest.raises(ValueError, match="must divide num_envs"):
        _self_play(groups=3)
    base = arena_v0.vector_env(4, seed=0, scenario="ctf_3v3_vs_guards")
    policy = MultiAgentActorCritic(base.single_observation_space, base.state_space, 3, base.single_action_space.n)
    with pytest.raises(ValueError, match="without NPCs"):
        SelfPlayVectorEnv(base, policy, League(LeagueConfig()), 0)
    with pytest.raises(ValueError, match="team"):
        LeagueConfig(team="green")
    with pytest.raises(ValueError, match="latest_prob"):
        LeagueConfig(latest_prob=1.5)


def _trainer(seed):
    envs, policy = _self_play(team=1, seed=seed)
    cfg = MAPPOConfig(num_envs=8, num_steps=8, num_minibatches=2)
    return MAPPO(cfg, envs, policy, CPU, total_iterations=10, seed=seed), envs


def test_self_play_training_grows_the_league_and_continues_exactly():
    first, envs = _trainer(3)
    metrics = [first.iteration() for _ in range(4)]
    assert [m["league/size"] for m in metrics] == [1, 2, 2, 3]
    assert envs.league.iterations == [0, 2, 4]
    # snapshots are frozen copies, not the live weights
    live = next(iter(first.policy.state_dict().values()))
    assert not any(snap[next(iter(snap))].data_ptr() == live.data_ptr() for snap in envs.league.snapshots)
    saved = copy.deepcopy(first.state_dict())
    after = [first.iteration() for _ in range(3)]
    resumed, _ = _trainer(99)
    resumed.load_state_dict(saved)
    assert str([resumed.iteration() for _ in range(3)]) == str(after)


def test_win_rate_table_is_consistent_and_a_policy_beats_a_frozen_one():
    base = arena_v0.vector_env(8, seed=0, mode="combat", red=2, blue=2, size=11, max_cycles=30)
    torch.manual_seed(0)
    policy = MultiAgentActorCritic(base.single_observation_space, base.state_space, 2, base.single_action_space.n)
    # a "snapshot" that always attacks against one that always stays: the attacker can only win or draw
    attack, stay = copy.deepcopy(policy.state_dict()), copy.deepcopy(policy.state_dict())
    for snap, action in ((attack, 5), (stay, 0)):
        snap["actors.0.bias"] = torch.full_like(snap["actors.0.bias"], -50.0)
        snap["actors.0.bias"][action] = 50.0
    table = win_rate_table(
        lambda: arena_v0.vector_env(8, seed=1, mode="combat", red=2, blue=2, size=11, max_cycles=30),
        policy,
        [stay, attack],
        0,
        32,
    )
    win, draw = table["win"], table["draw"]
    assert win[0][0] is None and win[0][1] == 0.0
    assert win[0][1] + win[1][0] + draw[0][1] == pytest.approx(1.0)
    red = TeamPolicy(policy, 0, 0)
    result = play_match(base, red, TeamPolicy(policy, 0, 1), 16)
    assert result["games"] == 16 and result["red_win"] + result["draw"] + result["blue_win"] == pytest.approx(1)


def test_a_scripted_team_plays_cross_play_on_either_side_and_beats_an_untrained_team():
    from mazearena.agents.baselines import ScriptedPlayer
    from mazearena.agents.league import cross_play
    from mazearena.envs.scenarios import scenario

    def envs():
        return arena_v0.vector_env(16, seed=1, mode="ctf", red=2, blue=2, size=11)

    base = envs()
    torch.manual_seed(0)
    untrained = MultiAgentActorCritic(base.single_observation_space, base.state_space, 2, base.single_action_space.n)
    script = ScriptedPlayer(scenario("ctf_2v2_vs_guard_and_runner").scripted)
    table = cross_play(envs, [untrained, script], [0, 0], 32)
    win, draw = table["win"], table["draw"]
    # half the games the script plays blue (its seats moved to blue_0, blue_1): it wins them all the same
    assert win[1][0] > 0.9 and win[0][1] == 0.0
    assert win[0][1] + win[1][0] + draw[0][1] == pytest.approx(1.0)
    games = envs()
    red = play_match(games, script.actor(games, 0), TeamPolicy(untrained, 0, 1), 16)
    assert red["red_win"] > 0.9


def test_the_best_scripted_team_can_be_the_leagues_scripted_opponent(tmp_path):
    from mazearena.envs.npcs import _CODES
    from mazearena.training import TrainConfig
    from mazearena.training.config import ArenaEnvConfig
    from mazearena.training.runs import make_envs

    cfg = TrainConfig(
        algo="mappo",
        arena=ArenaEnvConfig(scenario="ctf_2v2_vs_guard_and_runner", size=9, max_cycles=20, num_levels=4),
        league=LeagueConfig(self_play=True, opponent_groups=2, scripted_groups=1, scripted_team="best"),
        mappo=MAPPOConfig(num_envs=4, num_steps=4),
        runs_dir=tmp_path,
    )
    base = make_envs(cfg, 4, test=False, seed=0, both_teams=True)
    policy = MultiAgentActorCritic(base.single_observation_space, base.state_space, 2, base.single_action_space.n)
    envs = cfg.task.training_envs(cfg, base, policy)
    assert envs.npcs.code.tolist() == [_CODES["ctf_defender"], _CODES["ctf_raider"]]  # on blue's seats
    assert envs.npcs.index.tolist() == [2, 3]
    with pytest.raises(ValueError, match="scripted_team"):
        LeagueConfig(scripted_team="strongest")
