"""Recurrent cores: a batched rollout equals each game played alone, states reset exactly at episode ends, kill
and resume continue identically, and a memory task is solved with a core and not without one."""

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.actor import PolicyActor
from mazearena.agents.cores import Core
from mazearena.agents.policies import ActorCritic, MultiAgentActorCritic
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig
from mazearena.training.algorithms.ppo import PPO, PPOConfig
from mazearena.training.checkpoint import load_checkpoint
from mazearena.training.config import ArenaEnvConfig


class RememberBit(gym.Env):
    """Shows a bit at the first step, then ``k`` blank steps, then asks for it: reward 1 for the right answer,
    0 for the wrong one. Without a memory the answer is a coin flip."""

    def __init__(self, k: int = 5) -> None:
        self.k = k
        self.observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(3, np.float32)
        if self.t == 0:
            obs[self.bit] = 1.0
        elif self.t == self.k + 1:
            obs[2] = 1.0  # the question
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.bit = 0, int(self.np_random.integers(2))
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        if self.t > self.k + 1:
            right = int(action) == self.bit
            return self._obs(), float(right), True, False, {"is_success": right}
        return self._obs(), 0.0, False, False, {}


if "RememberBit-v0" not in gym.registry:
    gym.register("RememberBit-v0", entry_point=RememberBit)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_a_batched_rollout_equals_each_game_stepped_alone(kind, device):
    torch.manual_seed(0)
    envs = mazearena.make_vec("mazearena/Maze-v0", 4, seed=0, size=5, max_steps=6, device=device)  # many ends
    policy = ActorCritic(envs.single_observation_space, 4, "cnn", core=kind, core_size=16).to(device)
    cfg = PPOConfig(num_envs=4, num_steps=24, num_minibatches=2)
    ppo = PPO(cfg, envs, policy, torch.device(device), total_iterations=1)
    ppo._rollout()
    assert ppo.buf_dones[1:].sum() >= 4  # episodes ended and restarted inside the rollout
    first = ppo.buf_dones.bool()
    with torch.no_grad():
        for game in range(4):  # one game alone, one step at a time, from the rollout's first state
            state = tuple(s[game : game + 1] for s in ppo.rollout_state) if kind == "lstm" else None
            state = state if state is not None else ppo.rollout_state[game : game + 1]
            for t in range(cfg.num_steps):
                logits, value, state = policy.step(ppo.buf_obs[t, game][None], state, first[t, game][None])
                logprob = torch.log_softmax(logits, -1)[0, ppo.buf_actions[t, game]]
                assert torch.allclose(logprob, ppo.buf_logprobs[t, game], atol=1e-5)
                assert torch.allclose(value[0], ppo.buf_values[t, game], atol=1e-5)
        # and the update's replay of whole sequences gives the same again
        obs = ppo.buf_obs.reshape(-1, *ppo.buf_obs.shape[2:])
        logits, value = policy.sequence(obs, ppo.rollout_state, first)
        taken = torch.log_softmax(logits, -1).gather(1, ppo.buf_actions.reshape(-1, 1))[:, 0]
        assert torch.allclose(taken, ppo.buf_logprobs.reshape(-1), atol=1e-5)
        assert torch.allclose(value, ppo.buf_values.reshape(-1), atol=1e-5)


def test_the_state_starts_from_zeros_exactly_where_an_episode_starts():
    core = Core("gru", 8, 16)
    x, state = torch.randn(5, 8), torch.randn(5, 16)
    first = torch.tensor([True, False, True, False, False])
    out, _ = core.step(x, state, first)
    alone, _ = core.step(x, core.initial_state(5, "cpu"))
    carried, _ = core.step(x, state)
    assert torch.equal(out[first], alone[first]) and torch.equal(out[~first], carried[~first])
    # an actor is given its initial state again by whoever plays it (reset_where): the same zeros
    actor = PolicyActor(ActorCritic(gym.spaces.Box(0, 1, (3,)), 2, "mlp", core="lstm", core_size=4))
    h, c = actor.initial_state(3, "cpu")
    assert h.shape == (3, 4) and not h.any() and not c.any()


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_the_update_replay_equals_stepping_and_its_gradients_are_exact(kind, device):
    """The replay's hand-written backpropagation through time: outputs and every gradient as autograd gives them
    through step after step (float32), and exact against finite differences (float64)."""
    torch.manual_seed(0)
    core = Core(kind, 6, 8).to(device)
    x = torch.randn(7, 4, 2, 6, device=device, requires_grad=True)  # steps, games, agents, features
    first = torch.rand(7, 4, 2, device=device) < 0.25
    first[0, 0] = True
    state = core.initial_state((4, 2), device)
    state = tuple(torch.randn_like(p) for p in state) if kind == "lstm" else torch.randn_like(state)
    stepped, s = [], state
    for t in range(7):
        y, s = core.step(x[t], s, first[t])
        stepped.append(y)
    weights = [x, *core.parameters()]
    want = torch.autograd.grad((torch.stack(stepped) ** 2).sum(), weights)
    out = core.sequence(x, state, first)
    got = torch.autograd.grad((out**2).sum(), weights)
    assert torch.allclose(out, torch.stack(stepped), atol=1e-6)
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    core = core.double()
    x64 = x.detach().double().requires_grad_()
    parts = state if kind == "lstm" else (state,)
    state64 = tuple(p.double().requires_grad_() for p in parts)
    assert torch.autograd.gradcheck(
        lambda x, *s: core.sequence(x, s if kind == "lstm" else s[0], first), (x64, *state64)
    )


def _bit_config(tmp_path, core: str, **overrides) -> TrainConfig:
    fields = dict(
        env=EnvConfig(env_id="RememberBit-v0"),
        backbone="mlp",
        core=core,
        core_size=32,
        ppo=PPOConfig(num_envs=16, num_steps=32, num_minibatches=2, learning_rate=3e-3),
        total_timesteps=16_384,
        eval_every=0,
        eval_episodes=64,
        video_episodes=0,
        wandb_mode="disabled",
        progress=False,
        runs_dir=tmp_path,
        name=core,
    )
    if overrides.get("algo") == "mappo":  # an arena run: no maze env, no ppo section
        del fields["env"], fields["ppo"]
    return TrainConfig(**fields | overrides)


def test_a_gru_remembers_a_bit_that_a_feed_forward_policy_cannot(tmp_path):
    returns = {}
    for core in ("gru", "none"):
        report = json.loads((train(_bit_config(tmp_path, core)) / "report.json").read_text())
        returns[core] = report["summary"]["test_return"]  # the share of right answers on held-out episodes
    assert returns["gru"] >= 0.95 and returns["none"] <= 0.75, returns


MAZE = dict(env=EnvConfig(size=5, num_levels=20), backbone="cnn")
ARENA = dict(
    algo="mappo",
    backbone="cnn",
    arena=ArenaEnvConfig(scenario="combat_3v3_vs_chasers", size=9, max_cycles=16, num_levels=20),
    mappo=MAPPOConfig(num_envs=8, num_steps=32, num_minibatches=2),
)


@pytest.mark.parametrize("setup", [MAZE, ARENA], ids=["ppo", "mappo"])
def test_kill_and_resume_continue_a_recurrent_run_exactly(setup, tmp_path, crash_at):
    # mazes and arenas: their engines' states are in the checkpoints (another Gymnasium env is made afresh)
    trainer = MAPPO if setup.get("algo") == "mappo" else PPO
    common = dict(setup, total_timesteps=1024, checkpoint_every=256)
    straight = train(_bit_config(tmp_path / "a", "lstm", **common))
    cfg = _bit_config(tmp_path / "b", "lstm", **common)
    crash_at(trainer, 2)  # a crash in the second iteration, after the first one's checkpoint
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    crash_at.undo()
    resumed = train(dataclasses.replace(cfg, resume=cfg.runs_dir / cfg.run_name))
    a, b = (load_checkpoint(run / "checkpoints" / "last.pt")["algo"] for run in (straight, resumed))
    assert a["global_step"] == b["global_step"] == 1024
    for key in ("policy", "optimizer", "core_state", "obs", "torch_rng"):
        flat_a, flat_b = _tensors(a[key]), _tensors(b[key])
        assert all(torch.equal(x, y) for x, y in zip(flat_a, flat_b, strict=True)), key


@pytest.mark.parametrize("share", [True, False])
def test_a_team_rollout_equals_each_game_stepped_alone_with_deaths_and_game_ends(share):
    from mazearena.envs import arena_v0

    torch.manual_seed(0)
    envs = arena_v0.vector_env(4, seed=0, scenario="combat_3v3_vs_chasers", size=9, max_cycles=10)
    space, n = envs.single_observation_space, envs.single_action_space.n
    policy = MultiAgentActorCritic(space, envs.state_space, 3, n, "cnn", core="gru", core_size=16, share_params=share)
    cfg = MAPPOConfig(num_envs=4, num_steps=30, num_minibatches=2)
    mappo = MAPPO(cfg, envs, policy, torch.device("cpu"), total_iterations=1)
    mappo._rollout()
    started, active = mappo.buf_started, mappo.buf_active
    assert started[1:].any() and (~active).any()  # games restarted and agents died inside the rollout
    first = started[:, :, None].expand_as(active)
    with torch.no_grad():
        for game in range(4):
            memory = mappo.rollout_memory[game : game + 1]
            for t in range(cfg.num_steps):
                logits, value, memory = policy.step(
                    mappo.buf_obs[t, game][None],
                    memory,
                    active[t, game][None],
                    first[t, game][None],
                    mappo.buf_state[t, game][None],
                )
                logprob = torch.log_softmax(logits[0], -1).gather(1, mappo.buf_actions[t, game][:, None])[:, 0]
                assert torch.allclose(logprob, mappo.buf_logprobs[t, game], atol=1e-5)
                assert torch.allclose(value[0], mappo.buf_values[t, game], atol=1e-5)
        obs = mappo.buf_obs.reshape(-1, *mappo.buf_obs.shape[2:])
        state = mappo.buf_state.reshape(-1, *mappo.buf_state.shape[2:])
        logits, value = policy.sequence(obs, mappo.rollout_memory, active, first, state)
        taken = torch.log_softmax(logits, -1).gather(2, mappo.buf_actions.reshape(-1, 3, 1))[..., 0]
        assert torch.allclose(taken, mappo.buf_logprobs.reshape(-1, 3), atol=1e-5)
        assert torch.allclose(value, mappo.buf_values.reshape(-1, 3), atol=1e-5)


def _tensors(x) -> list[torch.Tensor]:
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in _tensors(v)]
    return [] if x is None else [torch.as_tensor(x)]


def test_configs_name_what_cannot_have_a_core():
    with pytest.raises(ValueError, match="core='gru'.*'ppo', 'mappo' or 'a2c', not 'dqn'"):
        TrainConfig(algo="dqn", core="gru")
    with pytest.raises(ValueError, match="whole env sequences"):
        TrainConfig(core="gru", ppo=PPOConfig(num_envs=6, num_steps=4, num_minibatches=4))
    with pytest.raises(ValueError, match="compile is not available with a recurrent core"):
        TrainConfig(core="lstm", compile=True)
    assert TrainConfig(core="gru").run_name == "ppo-cnn-gru-9x9-seed0"
