"""Exported brains: the same numbers as the networks they wrap, in torch, in ONNX (onnxruntime) and TorchScript."""

import json

import numpy as np
import pytest
import torch

import mazearena
from mazearena.agents.brain import BrainSpec, example_inputs, make_brain
from mazearena.agents.policies import ActorCritic, MultiAgentActorCritic, QNetwork
from mazearena.envs import arena_v0

ort = pytest.importorskip("onnxruntime")


def _sharpen(net: torch.nn.Module) -> None:
    """Action heads scaled up: an untrained head's logits are nearly tied (std 0.01), and a greedy action must
    follow the network's preference, not float rounding."""
    with torch.no_grad():
        for name, module in net.named_modules():
            if isinstance(module, torch.nn.Linear) and name.split(".")[-1].rstrip("0123456789") in (
                "actor",
                "actors",
                "head",
            ):
                module.weight.mul_(100.0)


def _maze_observations(n: int = 1000, **kwargs) -> torch.Tensor:
    """``n`` observations of held-out maze games under random play (64 games at a time)."""
    env = mazearena.make_vec("mazearena/Maze-v0", 64, seed=5, size=9, start_level=10**6, **kwargs)
    obs, _ = env.reset()
    gen = torch.Generator().manual_seed(0)
    out = [obs]
    while sum(len(o) for o in out) < n:
        obs, *_ = env.step(torch.randint(0, 4, (64,), generator=gen))
        out.append(obs)
    return torch.cat(out)[:n]


def _arena_observations(n: int, obs_mode: str):
    """``n`` rows of single agents' observations (and each one's index in its team) from held-out arena games."""
    env = arena_v0.vector_env(16, seed=3, mode="tag", red=2, blue=1, obs_mode=obs_mode, start_level=10**6)
    obs, _ = env.reset()
    gen = torch.Generator().manual_seed(0)
    rows, agents = [], []
    while sum(len(a) for a in agents) < n:
        red = {k: v[:, :2] for k, v in obs.items()} if isinstance(obs, dict) else obs[:, :2]
        rows.append(
            {k: v.reshape(-1, *v.shape[2:]) for k, v in red.items()}
            if isinstance(red, dict)
            else red.reshape(-1, *red.shape[2:])
        )
        agents.append(torch.arange(2).repeat(16))
        obs, *_ = env.step(torch.randint(0, env.single_action_space.n, (16, env.num_agents), generator=gen))
    cat = (
        {k: torch.cat([r[k] for r in rows])[:n] for k in rows[0]} if isinstance(rows[0], dict) else torch.cat(rows)[:n]
    )
    return cat, torch.cat(agents)[:n], env


def _feed(spec, inputs) -> dict:
    """The inputs as a game builds them from the spec: arrays of the declared dtypes."""
    return {t.name: np.ascontiguousarray(v.numpy(), dtype=t.dtype) for t, v in zip(spec.inputs, inputs, strict=True)}


def _onnx(brain, tmp_path):
    from mazearena.apps.export import write_onnx

    path = write_onnx(brain, brain.spec, tmp_path / "policy.onnx")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _inputs(brain, obs, agent=None, state=()):
    spec = brain.spec
    obs_part = tuple(obs[k] for k in spec.observation_keys) if spec.observation_keys else (obs,)
    return (*obs_part, *(() if agent is None else (agent,)), *state)


@pytest.mark.parametrize("kind", ["ppo-cnn", "ppo-transformer", "dqn-cnn"])
def test_a_maze_brain_in_onnx_matches_torch_on_a_thousand_held_out_observations(kind, tmp_path):
    algo, backbone = kind.split("-")
    obs = _maze_observations(1000)
    space = mazearena.make_vec("mazearena/Maze-v0", 1, size=9).single_observation_space
    torch.manual_seed(0)
    net = (ActorCritic(space, 4, backbone) if algo == "ppo" else QNetwork(space, 4, backbone)).eval()
    _sharpen(net)
    brain = make_brain(net, space)
    with torch.no_grad():
        want = net(obs)[0] if algo == "ppo" else net(obs)
        mine = brain(obs)[0]
    assert torch.equal(want, mine)  # the brain is the network
    got = _onnx(brain, tmp_path).run(None, _feed(brain.spec, (obs,)))[0]
    assert np.abs(got - want.numpy()).max() < 1e-4
    assert (got.argmax(-1) == want.argmax(-1).numpy()).all()


@pytest.mark.parametrize("obs_mode,backbone,share", [("tokens", "transformer", True), ("grid", "cnn", False)])
def test_a_team_brain_in_onnx_matches_the_team_network(obs_mode, backbone, share, tmp_path):
    # masked entity tokens through the transformer (shared weights, the agent's one-hot id as input), and one
    # network per agent picked by the agent input
    obs, agent, env = _arena_observations(1000, obs_mode)
    torch.manual_seed(0)
    net = MultiAgentActorCritic(
        env.single_observation_space, env.state_space, 2, env.single_action_space.n, backbone, share_params=share
    ).eval()
    _sharpen(net)
    brain = make_brain(net, env.single_observation_space)
    assert BrainSpec.from_dict(json.loads(json.dumps(brain.spec.to_dict()))) == brain.spec  # spec.json round trip
    # the team network's own acting path: [games, agents] with both agents alive; rows are (game, agent) pairs
    games = (
        {k: v.view(-1, 2, *v.shape[1:]) for k, v in obs.items()}
        if isinstance(obs, dict)
        else obs.view(-1, 2, *obs.shape[1:])
    )
    with torch.no_grad():
        want = net(games, None, torch.ones(len(agent) // 2, 2, dtype=torch.bool))[0].reshape(len(agent), -1)
        mine = brain(*_inputs(brain, obs, agent))[0]
    assert torch.allclose(want, mine, atol=1e-5)
    got = _onnx(brain, tmp_path).run(None, _feed(brain.spec, _inputs(brain, obs, agent)))[0]
    assert np.abs(got - want.numpy()).max() < 1e-4
    assert (got.argmax(-1) == want.argmax(-1).numpy()).all()


@pytest.mark.parametrize("core", ["gru", "lstm"])
def test_a_recurrent_brain_in_onnx_follows_the_network_over_fifty_steps(core, tmp_path):
    # 32 held-out games for 50 steps with autoreset: the exported model carries its state in and out, zeroed by
    # the caller where an episode starts, and follows the network's own stepping
    env = mazearena.make_vec("mazearena/Maze-v0", 32, seed=9, size=7, start_level=10**6, max_episode_steps=20)
    torch.manual_seed(0)
    net = ActorCritic(env.single_observation_space, 4, "cnn", core=core).eval()
    _sharpen(net)
    brain = make_brain(net, env.single_observation_space)
    session = _onnx(brain, tmp_path)
    obs, _ = env.reset()
    state = net.initial_state(32, "cpu")
    mine = [np.zeros((32, 128), np.float32) for _ in brain.spec.state]
    first = torch.ones(32, dtype=torch.bool)
    worst = 0.0
    for _ in range(50):
        with torch.no_grad():
            logits, _, state = net.step(obs, state, first)
        for part in mine:
            part[first.numpy()] = 0.0
        out = session.run(None, _feed(brain.spec, (obs, *map(torch.from_numpy, mine))))
        got, mine = out[0], out[2:]
        worst = max(worst, float(np.abs(got - logits.numpy()).max()))
        assert (got.argmax(-1) == logits.argmax(-1).numpy()).all()
        actions = torch.from_numpy(got.argmax(-1))
        obs, _, terminated, truncated, _ = env.step(actions)
        first = terminated | truncated
    assert worst < 1e-4


def test_core_cell_is_the_step_of_torch_rnn():
    from mazearena.agents.cores import Core

    torch.manual_seed(0)
    for kind in ("gru", "lstm"):
        core = Core(kind, 16, 32)
        x = torch.randn(5, 16)
        state = core.initial_state(5, "cpu")
        state = tuple(s + torch.randn_like(s) for s in state) if kind == "lstm" else state + torch.randn_like(state)
        with torch.no_grad():
            a, sa = core.step(x, state)
            b, sb = core.cell(x, state)
        assert torch.allclose(a, b, atol=1e-6)
        for p, q in zip(sa if kind == "lstm" else (sa,), sb if kind == "lstm" else (sb,), strict=True):
            assert torch.allclose(p, q, atol=1e-6)


def test_a_torchscript_brain_matches_and_takes_any_batch(tmp_path):
    from mazearena.apps.export import write_torchscript

    space = mazearena.make_vec("mazearena/Maze-v0", 1, size=9).single_observation_space
    torch.manual_seed(0)
    brain = make_brain(ActorCritic(space, 4, "cnn", core="gru").eval(), space)
    loaded = torch.jit.load(str(write_torchscript(brain, brain.spec, tmp_path / "policy.pt")))
    for batch in (1, 17):
        x = example_inputs(brain.spec, batch, torch.Generator().manual_seed(batch))
        with torch.no_grad():
            for a, b in zip(brain(*x), loaded(*x), strict=True):
                assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("core", ["none", "gru"])
def test_the_harness_plays_an_exported_model_as_it_plays_its_network(core, tmp_path):
    # greedy actions through OnnxActor and through the network's own actor: the same episodes, step for step
    from mazearena.actor import PolicyActor
    from mazearena.agents.brain import OnnxActor
    from mazearena.agents.episodes import play_episodes
    from mazearena.apps.export import write_onnx

    space = mazearena.make_vec("mazearena/Maze-v0", 1, size=7).single_observation_space
    torch.manual_seed(0)
    net = ActorCritic(space, 4, "cnn", core=core).eval()
    _sharpen(net)
    brain = make_brain(net, space)
    write_onnx(brain, brain.spec, tmp_path / "policy.onnx")
    (tmp_path / "spec.json").write_text(json.dumps({"model": "policy.onnx", "brain": brain.spec.to_dict()}))
    results = []
    for actor in (PolicyActor(net, deterministic=True), OnnxActor(tmp_path)):
        env = mazearena.make_vec("mazearena/Maze-v0", 16, seed=2, size=7, start_level=10**6, max_steps=30)
        results.append(play_episodes(env, actor, 48))
    assert results[0] == results[1]
