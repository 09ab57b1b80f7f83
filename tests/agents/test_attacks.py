"""Budgeted observation attacks on a hand-made position (the policy of tests/agents/test_explain.py)."""

import pytest
import torch
from test_explain import TILE_PLANES, WALL, shortest_way, view

from mazearena.actor import map_tensors
from mazearena.agents.attacks import AttackedActor, attack_target, greedy_attack, random_flips

CENTRE = torch.zeros(7, 7, dtype=torch.bool)
CENTRE[3, 3] = True


def grouped(views: torch.Tensor, rows: slice | None = None) -> torch.Tensor:
    """The hand-made policy on candidate views grouped by game, ``[B, M, C, H, W]`` -> ``[B, M, 4]``."""
    return shortest_way(views.flatten(0, 1)).view(*views.shape[:2], -1)


def test_the_attack_finds_a_single_change_that_turns_the_greedy_action():
    clean = view()[None]
    assert int(shortest_way(clean).argmax()) == 1  # east, towards the gap
    attacked = greedy_attack(grouped, clean, 1, TILE_PLANES, WALL, protect=CENTRE)
    changed = (attacked != clean).any(1)[0]
    assert int(changed.sum()) == 1  # one cell
    assert int(shortest_way(attacked).argmax()) != 1  # and the agent no longer goes east
    # the agent's planes are untouched and the view stays one the game could show
    assert torch.equal(attacked[:, TILE_PLANES:], clean[:, TILE_PLANES:])
    assert not changed[3, 3] and int(attacked[0, :TILE_PLANES].sum(0).max()) <= 1


def test_budget_zero_is_the_clean_view_and_more_budget_never_helps_the_agent():
    clean = view()[None].repeat(3, 1, 1, 1)
    assert greedy_attack(grouped, clean, 0, TILE_PLANES, WALL) is clean
    east = []
    for k in (1, 2, 4):
        attacked = greedy_attack(grouped, clean, k, TILE_PLANES, WALL, protect=CENTRE)
        assert int((attacked != clean).any(1).flatten(1).sum(1).max()) <= k  # at most k cells
        east.append(float(torch.softmax(shortest_way(attacked), -1)[0, 1]))
    assert east[0] >= east[1] >= east[2]


def test_random_flips_spend_the_same_budget_on_random_cells():
    clean = view()[None].repeat(64, 1, 1, 1)
    g = torch.Generator().manual_seed(0)
    flipped = random_flips(clean, 2, TILE_PLANES, WALL, g, protect=CENTRE)
    counts = (flipped != clean).any(1).flatten(1).sum(1)
    assert (counts == 2).all() and not (flipped != clean).any(1)[:, 3, 3].any()
    again = random_flips(clean, 2, TILE_PLANES, WALL, torch.Generator().manual_seed(0), protect=CENTRE)
    assert torch.equal(flipped, again)
    # random flips of the same budget move the agent far less often than the attack does
    turned_random = (shortest_way(flipped).argmax(-1) != 1).float().mean()
    attacked = greedy_attack(grouped, clean[:1], 2, TILE_PLANES, WALL, protect=CENTRE)
    assert int(shortest_way(attacked).argmax()) != 1 and turned_random < 0.5


def _team(obs_mode: str, core: str):
    """A ctf team of two (untrained, its action heads sharpened) and held-out games' first observations."""
    from mazearena.agents.league import TeamPolicy
    from mazearena.agents.policies import MultiAgentActorCritic
    from mazearena.envs import arena_v0

    env = arena_v0.vector_env(
        16,
        seed=5,
        scenario="ctf_2v2_vs_guard_and_runner_heldout",
        obs_mode=obs_mode,
        start_level=10**6,
        view_size=7 if obs_mode == "grid" else 21,  # tokens: every entity in sight
    )
    obs, _ = env.reset()
    torch.manual_seed(0)
    space, actions = env.single_observation_space, env.single_action_space.n
    net = MultiAgentActorCritic(
        space, env.state_space, env.num_agents, actions, "cnn" if obs_mode == "grid" else "transformer", core=core
    ).eval()
    with torch.no_grad():  # an untrained head's logits are nearly tied (std 0.01): scaled up
        for head in net.actors:
            head.weight.mul_(100.0)
    actor = TeamPolicy(net, 0, 0, deterministic=True)
    state = actor.initial_state(16, "cpu")
    if state is not None:  # a memory of its own in every game
        state = torch.randn(state.shape, generator=torch.Generator().manual_seed(1))
    alive = torch.ones(16, env.num_agents, dtype=torch.bool)
    return env, actor, obs, state, alive


def _clean_probability(actor, obs, state, alive, target) -> torch.Tensor:
    """``[games, agents]``: the probability of ``target`` (each agent's action) under ``obs``."""
    p = torch.softmax(actor.logits(obs, state, alive).float(), -1)
    return p.gather(2, target[..., None])[..., 0]


@pytest.mark.parametrize("obs_mode", ["grid", "tokens"])
@pytest.mark.parametrize("core", ["none", "gru"])
def test_the_team_attack_is_each_agents_exact_best_change_read_from_its_own_memory(obs_mode, core):
    env, actor, obs, state, alive = _team(obs_mode, core)
    target = attack_target(env)
    clean_action = actor.logits(obs, state, alive).argmax(-1)
    attacked = AttackedActor(actor, "attack_obs", 1, target, torch.Generator()).attack(obs, state, alive)
    got = _clean_probability(actor, attacked, state, alive, clean_action)
    before = _clean_probability(actor, obs, state, alive, clean_action)
    assert (got <= before + 1e-6).all() and (got < before).float().mean() > 0.5
    # the reference: agent by agent, game by game, every allowed change of that agent's view alone
    agents = env.num_agents
    for g in range(0, 16, 5):
        for a in range(agents):
            mine = map_tensors(lambda x, g=g, a=a: x[g, a][None], obs)
            candidates = map_tensors(lambda x: x[0], target.changes(mine))
            m = len(next(iter(candidates.values())) if isinstance(candidates, dict) else candidates)
            rows = map_tensors(lambda x, g=g, m=m: x[g][None].repeat(m, *[1] * (x.dim() - 1)), obs)
            map_tensors(lambda r, c, a=a: r[:, a].copy_(c), rows, candidates)
            memory = None if state is None else state[g][None].repeat(m, 1, 1)
            p = _clean_probability(actor, rows, memory, alive[:1].expand(m, -1), clean_action[g][None].expand(m, -1))[
                :, a
            ]
            best = p.masked_fill(~target.allowed(mine)[0], float("inf")).min()
            assert torch.isclose(got[g, a], torch.minimum(best, before[g, a]), atol=1e-5)
    # at most one change per agent, never the agent's own cell or token
    if obs_mode == "grid":
        changed = (attacked != obs).any(2).flatten(2)
        assert (changed.sum(-1) <= 1).all() and not (changed & obs[:, :, target.protect].bool().flatten(2)).any()
    else:
        hidden = obs["mask"].bool() & ~attacked["mask"].bool()
        assert (hidden.sum(-1) <= 1).all() and not (hidden & (obs["tokens"][..., target.protect] != 0)).any()
        assert (attacked["tokens"][hidden] == 0).all()


@pytest.mark.parametrize("obs_mode", ["grid", "tokens"])
def test_random_arena_changes_spend_the_budget_where_they_may(obs_mode):
    env, actor, obs, state, alive = _team(obs_mode, "none")
    target = attack_target(env)
    seen = AttackedActor(actor, "flip_obs", 2, target, torch.Generator().manual_seed(0)).attack(obs, state, alive)
    if obs_mode == "grid":
        assert ((seen != obs).any(2).flatten(2).sum(-1) == 2).all()
    else:
        hideable = (obs["mask"].bool() & (obs["tokens"][..., target.protect] == 0)).sum(-1)
        hidden = (obs["mask"].bool() & ~seen["mask"].bool()).sum(-1)
        assert torch.equal(hidden, hideable.clamp(max=2))


@pytest.mark.parametrize("kind", ["attack_obs", "flip_obs"])
def test_a_budget_of_zero_plays_the_clean_arena_games_bit_for_bit(kind):
    from mazearena.agents.episodes import play_games

    env, actor, *_ = _team("grid", "none")
    out = []
    for k in (None, 0):
        env, _, *_ = _team("grid", "none")
        played = actor if k is None else AttackedActor(actor, kind, k, attack_target(env), torch.Generator())
        torch.manual_seed(0)
        out.append(play_games(env, played, 16, 0))
    assert out[0] == out[1]


def test_a_recurrent_maze_policy_is_attacked_from_each_games_own_memory_in_chunks():
    """64 games of 7x7 views are scored 20 games a call; each game's candidates read that game's memory."""
    import mazearena
    from mazearena.actor import PolicyActor
    from mazearena.agents.policies import ActorCritic

    env = mazearena.make_vec("mazearena/Maze-v0", 64, seed=3, size=7)
    obs, _ = env.reset()
    torch.manual_seed(0)
    net = ActorCritic(env.single_observation_space, 4, "cnn", core="gru").eval()
    with torch.no_grad():
        net.actor.weight.mul_(100.0)
    actor = PolicyActor(net, True)
    state = torch.randn(actor.initial_state(64, "cpu").shape, generator=torch.Generator().manual_seed(1))
    attacker = AttackedActor(actor, "attack_obs", 2, attack_target(env), torch.Generator())
    together = attacker.attack(obs, state)
    alone = torch.cat([attacker.attack(obs[i : i + 1], state[i : i + 1]) for i in range(64)])
    assert torch.equal(together, alone) and not torch.equal(together, obs)
