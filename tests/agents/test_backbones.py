"""Every backbone takes its kind of observation to ``[batch, features_dim]`` and trains."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.agents.backbones import make_backbone
from mazearena.envs import arena_v0


def sample_batch(space, n=5):
    if isinstance(space, gym.spaces.Dict):
        return {k: torch.as_tensor(np.stack([space[k].sample() for _ in range(n)])) for k in space.spaces}
    return torch.as_tensor(np.stack([space.sample() for _ in range(n)]))


CASES = [
    ("cnn", gym.make("mazearena/Maze-v0").observation_space),
    ("resnet", gym.make("mazearena/Maze-v0", view_size=5).observation_space),
    ("cnn", gym.make("mazearena/Maze-v0", obs_mode="full", size=9).observation_space),
    ("gcnn", gym.make("mazearena/MazeMemory-v0", obs_mode="full", size=9).observation_space),
    ("impala", gym.make("mazearena/Maze-v0", obs_mode="rgb").observation_space),
    ("transformer", gym.make("mazearena/Maze-v0").observation_space),
    ("transformer", arena_v0.parallel_env(obs_mode="tokens").observation_space("red_0")),
    ("mlp", gym.spaces.Box(-1, 1, (12,), dtype=np.float32)),
]


@pytest.mark.parametrize("name,space", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_backbones_map_observations_to_features_and_learn(name, space):
    torch.manual_seed(0)
    net = make_backbone(name, space)
    x = sample_batch(space)
    out = net(x)
    assert out.shape == (5, net.features_dim) and torch.isfinite(out).all()
    loss = out.pow(2).mean()
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_transformer_ignores_masked_entities():
    space = arena_v0.parallel_env(obs_mode="tokens").observation_space("red_0")
    net = make_backbone("transformer", space).eval()
    x = sample_batch(space, 2)
    x["mask"][:, -2:] = 0
    y = {k: v.clone() for k, v in x.items()}
    y["tokens"][:, -2:] = 123.0  # changes only where masked out
    assert torch.allclose(net(x), net(y), atol=1e-5)


def test_cnn_works_on_seven_by_seven_views_and_the_vector_env():
    env = mazearena.make_vec("mazearena/Maze-v0", 3, seed=0)
    obs, _ = env.reset()
    net = make_backbone("cnn", env.single_observation_space)
    assert net(obs).shape == (3, net.features_dim)


def test_bad_backbone_names_and_spaces_are_named():
    with pytest.raises(ValueError, match="backbone must be one of"):
        make_backbone("lstm", gym.spaces.Box(0, 1, (3,)))
    with pytest.raises(ValueError, match=r"needs \[C, H, W\] plane observations"):
        make_backbone("cnn", gym.spaces.Box(0, 1, (3,)))
    with pytest.raises(ValueError, match="impala needs"):
        make_backbone("impala", gym.spaces.Box(0, 1, (8, 7, 7)))


def test_the_global_context_puts_a_far_cell_beside_every_cell():
    from mazearena.agents.backbones import GlobalContext, GridCNN

    x = torch.zeros(1, 2, 9, 9)
    x[0, 1, 0, 0] = 3.0  # a feature in one corner
    out = GlobalContext()(x)
    assert out.shape == (1, 4, 9, 9) and torch.equal(out[0, :2], x[0])
    assert bool((out[0, 3] == 3.0).all()) and bool((out[0, 2] == 0).all())  # its maximum at every cell
    # so the gcnn's receptive field is the whole grid: a corner changes the far corner's first-layer-later features
    space = gym.spaces.Box(0, 1, (2, 15, 15), np.uint8)
    torch.manual_seed(0)
    for global_context, reaches in ((False, False), (True, True)):
        net = GridCNN(space, global_context=global_context).eval()
        a, b = torch.zeros(1, 2, 15, 15), torch.zeros(1, 2, 15, 15)
        b[0, 0, 0, 0] = 1
        far = net.conv[:-1](a)[0, :, 14, 14], net.conv[:-1](b)[0, :, 14, 14]
        assert (not torch.allclose(*far)) == reaches
    with pytest.raises(ValueError, match="residual blocks take neither"):
        GridCNN(space, residual=True, global_context=True)
