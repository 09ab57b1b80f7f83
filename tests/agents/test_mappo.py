"""Multi-agent PPO: every switch combination trains, death masking, per-agent GAE, bootstrapping at
time-outs, game results, determinism and exact continuation from a state dict."""

import copy
import itertools

import pytest
import torch

from mazearena.agents.policies import MultiAgentActorCritic
from mazearena.envs import arena_v0
from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig

CPU = torch.device("cpu")


def _setup(scenario="combat_3v3_vs_chasers", seed=0, num_envs=4, num_steps=8, max_cycles=20, **switches):
    torch.manual_seed(seed)
    cfg = MAPPOConfig(num_envs=num_envs, num_steps=num_steps, num_minibatches=2, **switches)
    envs = arena_v0.vector_env(num_envs, seed=seed, scenario=scenario, max_cycles=max_cycles)
    policy = MultiAgentActorCritic(
        envs.single_observation_space,
        envs.state_space,
        envs.num_agents,
        envs.single_action_space.n,
        share_params=cfg.share_params,
        centralized_critic=cfg.centralized_critic,
        death_masking=cfg.death_masking,
    )
    return MAPPO(cfg, envs, policy, CPU, total_iterations=10), policy


@pytest.mark.parametrize("share,central,vnorm,dmask", list(itertools.product([True, False], repeat=4)))
def test_every_switch_combination_trains(share, central, vnorm, dmask):
    algo, policy = _setup(share_params=share, centralized_critic=central, value_norm=vnorm, death_masking=dmask)
    before = [p.clone() for p in policy.parameters()]
    metrics = algo.iteration()
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("loss/policy", "loss/value", "loss/entropy"))
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))
    separate = sum(1 for _ in policy.backbones)
    assert separate == (1 if share else 3)


def test_dead_agents_inputs_are_masked_out():
    algo, policy = _setup()
    obs, state = algo.obs, algo.envs.state()
    active = torch.ones(4, 3, dtype=torch.bool)
    active[0, 1] = False
    noisy = obs.clone()
    noisy[0, 1] = torch.randint(0, 2, noisy[0, 1].shape, dtype=noisy.dtype)
    zero = obs.clone()
    zero[0, 1] = 0
    with torch.no_grad():
        a, _ = policy(noisy, state, active)
        b, _ = policy(zero, state, active)
    assert torch.equal(a, b)


def test_gae_is_cut_where_an_agent_leaves_the_game():
    algo, _ = _setup(num_envs=1, num_steps=4, scenario="tag_1v2_vs_chasers")
    g, lam = algo.cfg.gamma, algo.cfg.gae_lambda
    algo.buf_rewards[:, 0, 0] = torch.tensor([0.0, -1.0, 0.0, 0.5])
    algo.buf_values[:, 0, 0] = torch.tensor([0.2, 0.3, 0.4, 0.1])
    algo.buf_ended[:, 0, 0] = torch.tensor([0.0, 1.0, 0.0, 0.0])  # the runner is caught at step 1
    algo._values = lambda *args: torch.tensor([[0.7]])  # value after the rollout
    adv, _ = algo._advantages()
    d3 = 0.5 + g * 0.7 - 0.1
    d2 = 0.0 + g * 0.1 - 0.4
    d1 = -1.0 - 0.3  # ended: no bootstrap from the next episode
    d0 = 0.0 + g * 0.3 - 0.2
    expected = [d0 + g * lam * d1, d1, d2 + g * lam * d3, d3]
    assert adv[:, 0, 0].tolist() == pytest.approx(expected, abs=1e-6)


def test_time_outs_bootstrap_from_the_final_state():
    algo, policy = _setup(scenario="tag_2v1_vs_fleeing_npc", max_cycles=5, num_steps=6)
    seen, real_step = [], algo.envs.step

    def spy(actions):
        out = real_step(actions)
        seen.append(out)
        return out

    algo.envs.step = spy
    algo._rollout()
    t = next(i for i, out in enumerate(seen) if bool((out[3] & ~out[2]).any()))
    _, reward, terminated, truncated, info = seen[t]
    assert "final_state" in info
    cut = truncated & ~terminated
    with torch.no_grad():
        _, v = policy(info["final_obs"], info["final_state"], torch.ones_like(cut))
    v = policy.value_norm.denormalize(v)
    expected = reward + algo.cfg.gamma * v * cut
    assert torch.allclose(algo.buf_rewards[t], expected, atol=1e-6)
    assert bool(algo.buf_ended[t][cut].all())


def test_game_results_follow_the_rules():
    envs = arena_v0.vector_env(64, seed=1, scenario="tag_2v1_vs_fleeing_npc", max_cycles=30)
    envs.reset()
    ended = 0
    for _ in range(90):
        _, _, _, _, info = envs.step(torch.randint(0, 5, (64, 2)))
        done = info["_final_obs"]
        timed_out = info["episode_length"] >= 30
        caught = done & ~timed_out
        assert bool((info["winner"][caught] == 0).all())  # the red chasers caught the runner
        assert bool((info["left_game"][caught, 1] == 1).all()) and not bool(info["left_game"][:, 0].any())
        assert bool((info["winner"][done & timed_out] >= 0).all())
        ended += int(done.sum())
    assert ended > 64


def test_same_seed_same_training_and_exact_continuation():
    first, _ = _setup(seed=3)
    a = [first.iteration() for _ in range(2)]
    second, _ = _setup(seed=3)
    b = [second.iteration() for _ in range(2)]
    assert str(a) == str(b)  # str: NaN metrics compare equal too
    saved = copy.deepcopy(first.state_dict())  # state dicts share storage with the live weights
    after = first.iteration()
    resumed, _ = _setup(seed=99)  # another seed: everything must come from the state dict
    resumed.load_state_dict(saved)
    assert str(resumed.iteration()) == str(after)


def test_bad_setups_are_named():
    envs = arena_v0.vector_env(2, seed=0, mode="tag", red=2, blue=1)  # no scenario: both teams would learn
    policy = MultiAgentActorCritic(envs.single_observation_space, envs.state_space, 3, envs.single_action_space.n)
    with pytest.raises(ValueError, match="one team"):
        MAPPO(MAPPOConfig(num_envs=2, num_steps=4, num_minibatches=1), envs, policy, CPU, 1)
    envs = arena_v0.vector_env(2, seed=0, scenario="tag_2v1_vs_fleeing_npc")
    policy = MultiAgentActorCritic(envs.single_observation_space, envs.state_space, 3, envs.single_action_space.n)
    with pytest.raises(ValueError, match="policy is for 3 agents"):
        MAPPO(MAPPOConfig(num_envs=2, num_steps=4, num_minibatches=1), envs, policy, CPU, 1)
    with pytest.raises(ValueError, match="num_minibatches"):
        MAPPOConfig(num_envs=3, num_steps=3, num_minibatches=2)


@pytest.mark.parametrize("share,central", [(True, True), (False, False)])
def test_team_a2c_makes_one_step_per_rollout_with_every_switch(share, central):
    from mazearena.training.algorithms.a2c import A2CConfig, TeamA2C

    envs = arena_v0.vector_env(4, seed=0, scenario="combat_3v3_vs_chasers", max_cycles=20)
    cfg = A2CConfig(num_envs=4, num_steps=8, share_params=share, centralized_critic=central)
    policy = MultiAgentActorCritic(
        envs.single_observation_space, envs.state_space, envs.num_agents, envs.single_action_space.n,
        share_params=share, centralized_critic=central,
    )  # fmt: skip
    algo = TeamA2C(cfg, envs, policy, CPU, total_iterations=10)
    assert isinstance(algo.optimizer, torch.optim.RMSprop)
    before = [p.clone() for p in policy.parameters()]
    metrics = algo.iteration()
    assert algo.optimizer.state_dict()["state"][0]["step"] == 1  # one gradient step on the whole rollout
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("loss/policy", "loss/value", "loss/entropy"))
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))


@pytest.mark.parametrize("norm_adv", [False, True])
def test_the_a2c_step_ignores_the_rows_of_agents_out_of_the_game(norm_adv):
    from mazearena.training.algorithms.a2c import A2CConfig, a2c_step

    cfg = A2CConfig(norm_adv=norm_adv)
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    actions = torch.tensor([[0, 1], [2, 1], [1, 0]])

    def stepped(junk: float) -> list[torch.Tensor]:
        torch.manual_seed(0)
        logits, value = torch.randn(3, 2, 3, requires_grad=True), torch.randn(3, 2, requires_grad=True)
        params = torch.nn.ParameterList([logits, value])
        adv, ret = torch.randn(3, 2), torch.randn(3, 2)
        adv, ret = torch.where(mask.bool(), adv, junk), torch.where(mask.bool(), ret, junk)
        a2c_step(cfg, params, torch.optim.SGD(params, lr=0.1), logits, value, actions, adv, ret, mask)
        return [p.detach()[mask.bool()] for p in params]

    assert all(torch.allclose(a, b) for a, b in zip(stepped(0.0), stepped(1e3), strict=True))
