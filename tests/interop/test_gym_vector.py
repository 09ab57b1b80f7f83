"""``gymnasium.make_vec`` on the maze ids: Gymnasium's standard vector API (numpy, next-step autoreset, ``_key``
info masks), so that every Gymnasium vector wrapper that applies to its spaces works on it."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vw

import mazearena

N = 4
VIDEOS = "videos"  # relative to the test's working directory (a tmp_path)


def make(**kwargs):
    return gym.make_vec("mazearena/Maze-v0", num_envs=N, size=7, max_steps=30, **kwargs)


def identity(x):
    return x


def flat_spaces(env):
    single = gym.spaces.Box(0, 1, (int(np.prod(env.single_observation_space.shape)),), np.int8)
    return gym.vector.utils.batch_space(single, env.num_envs), single


# wrapper name -> (how to wrap, env options); action wrappers for Box actions (ClipAction, RescaleAction) and
# FilterObservation (Dict observations) do not apply to these spaces. The planes are MultiBinary: the wrappers for
# Box observations (Reshape, Rescale) take them once DtypeObservation has made them a Box.
WRAPPERS = {
    "RecordEpisodeStatistics": (vw.RecordEpisodeStatistics, {}),
    "DictInfoToList": (vw.DictInfoToList, {}),
    "FlattenObservation": (vw.FlattenObservation, {}),
    "ReshapeObservation": (
        lambda e: vw.ReshapeObservation(
            vw.DtypeObservation(e, np.uint8), (int(np.prod(e.single_observation_space.shape)),)
        ),
        {},
    ),
    "DtypeObservation": (lambda e: vw.DtypeObservation(e, np.float32), {}),
    "RescaleObservation": (lambda e: vw.RescaleObservation(vw.DtypeObservation(e, np.float32), -1.0, 1.0), {}),
    "NormalizeObservation": (vw.NormalizeObservation, {}),
    "TransformObservation": (
        lambda e: vw.TransformObservation(e, lambda o: o.reshape(N, -1), *flat_spaces(e)),
        {},
    ),
    "VectorizeTransformObservation": (
        lambda e: vw.VectorizeTransformObservation(e, gym.wrappers.FlattenObservation),
        {},
    ),
    "GrayscaleObservation": (vw.GrayscaleObservation, {"obs_mode": "rgb"}),
    "ResizeObservation": (lambda e: vw.ResizeObservation(e, (28, 28)), {"obs_mode": "rgb"}),
    "TransformAction": (lambda e: vw.TransformAction(e, lambda a: 3 - a, e.action_space), {}),
    "TransformReward": (lambda e: vw.TransformReward(e, lambda r: 2 * r), {}),
    "ClipReward": (lambda e: vw.ClipReward(e, 0.0, 0.5), {}),
    "VectorizeTransformReward": (
        lambda e: vw.VectorizeTransformReward(e, gym.wrappers.ClipReward, min_reward=0.0, max_reward=0.5),
        {},
    ),
    "NormalizeReward": (vw.NormalizeReward, {}),
    "NumpyToTorch": (lambda e: vw.NumpyToTorch(e), {}),
    "HumanRendering": (vw.HumanRendering, {"render_mode": "rgb_array"}),
    "RecordVideo": (lambda e: vw.RecordVideo(e, VIDEOS, video_length=40), {"render_mode": "rgb_array"}),
}


@pytest.mark.parametrize("name", list(WRAPPERS))
def test_every_gymnasium_vector_wrapper_that_applies(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wrap, options = WRAPPERS[name]
    env = wrap(make(**options))
    env.action_space.seed(0)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(np.asarray(obs)) or name in ("NumpyToTorch", "NormalizeObservation")
    ended = 0
    for _ in range(80):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert len(reward) == N
        ended += int(np.asarray(terminated).sum() + np.asarray(truncated).sum())
    assert ended >= N  # every game reached its limit at least once (30 steps)
    env.close()
    if name == "RecordVideo":
        videos = list((tmp_path / VIDEOS).iterdir())
        assert videos and all(p.suffix == ".mp4" and p.stat().st_size > 0 for p in videos)


def test_episode_statistics_count_every_episode_once():
    env = vw.RecordEpisodeStatistics(make(), buffer_length=1000)
    env.action_space.seed(1)
    env.reset(seed=1)
    lengths = []
    for _ in range(200):
        *_, info = env.step(env.action_space.sample())
        if "episode" in info:
            lengths += info["episode"]["l"][info["_episode"]].tolist()
    assert lengths and max(lengths) <= 30 and min(lengths) >= 1
    assert len(env.length_queue) == len(lengths)


def test_dict_info_to_list_keeps_every_key():
    env = vw.DictInfoToList(make())
    _, infos = env.reset(seed=0)
    assert len(infos) == N and all(set(i) == {"level_id"} for i in infos)
    *_, infos = env.step(np.zeros(N, dtype=np.int64))
    assert all(set(i) == {"is_success", "episode_length", "level_id"} for i in infos)


def rollout_single(seed: int, actions) -> list:
    """MazeEnv seeded ``seed``, restarted (without acting) at the step after an episode ends, as next-step
    autoreset does."""
    env = gym.make("mazearena/Maze-v0", size=7, max_steps=30)
    obs, info = env.reset(seed=seed)
    out, ended = [(obs, 0.0, False, False)], False
    for a in actions:
        if ended:
            obs, _ = env.reset()
            out.append((obs, 0.0, False, False))
            ended = False
            continue
        obs, reward, terminated, truncated, _ = env.step(int(a))
        out.append((obs, reward, terminated, truncated))
        ended = terminated or truncated
    return out


def test_sub_env_i_plays_what_the_single_env_plays_with_seed_plus_i():
    env = make()
    actions = np.random.default_rng(0).integers(0, 4, (100, N))
    obs, _ = env.reset(seed=10)
    batched = [[(obs[i], 0.0, False, False)] for i in range(N)]
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        for i in range(N):
            batched[i].append((obs[i], float(reward[i]), bool(terminated[i]), bool(truncated[i])))
    for i in range(N):
        single = rollout_single(10 + i, actions[:, i])
        for a, b in zip(batched[i], single, strict=True):
            assert np.array_equal(a[0], b[0]) and a[1:] == pytest.approx(b[1:])


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
def test_the_other_autoreset_modes(mode):
    env = vw.RecordEpisodeStatistics(make(autoreset_mode=mode))
    assert env.metadata["autoreset_mode"] is mode
    env.reset(seed=0)
    zeros = np.zeros(N, dtype=np.int64)
    for _ in range(30):
        obs, reward, terminated, truncated, info = env.step(zeros)
        if mode is AutoresetMode.DISABLED and (terminated | truncated).any():
            obs, info = env.reset(options={"reset_mask": terminated | truncated})
    if mode is AutoresetMode.SAME_STEP:
        assert info["_final_obs"].all() and info["final_obs"].shape == obs.shape and "final_info" in info
    assert len(env.length_queue) == N


def test_per_env_wrappers_with_sync_and_async_vectorization():
    """``wrappers=`` wraps each single env, so it needs per-env vectorization, as for any Gymnasium env with a
    vector entry point (CartPole too)."""
    for mode in ("sync", "async"):
        env = gym.make_vec(
            "mazearena/Maze-v0", num_envs=2, vectorization_mode=mode, wrappers=[gym.wrappers.FlattenObservation]
        )
        env.reset(seed=0)
        assert env.step(np.zeros(2, dtype=np.int64))[0].shape == (2, 392)
        env.close()


def test_the_torch_vector_env_stays_and_carries_info_masks():
    env = mazearena.make_vec("mazearena/Maze-v0", N, seed=0, size=7)
    assert env.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP and env.spec.id == "mazearena/Maze-v0"
    assert env.autoreset_mode is AutoresetMode.SAME_STEP  # read as an attribute by TorchRL's GymWrapper
    assert make(autoreset_mode="Disabled").autoreset_mode is AutoresetMode.DISABLED
    env.reset()
    *_, info = env.step(np.zeros(N, dtype=np.int64))
    for key in ("is_success", "episode_length", "level_id"):
        assert info[f"_{key}"].all()


def test_bad_vector_options_are_named():
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        make(autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="runs on the CPU"):
        make(device="cuda")
    env = make(autoreset_mode=AutoresetMode.DISABLED)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.ones(N + 1, dtype=bool)})
