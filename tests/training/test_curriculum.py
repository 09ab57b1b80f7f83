"""Auto-curricula: the level buffer's prioritisation, episode segments, ACCEL's edits (solvable children only), the
level choices in the engine, training with plr and accel (W&B offline, logged metrics, the top levels written),
exact resume with the buffer in the checkpoint, and the config's errors."""

import dataclasses
import json

import pytest
import torch

from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.layouts import LayoutConfig, generate
from mazearena.envs.engine.levels import EXTRA_BASE
from mazearena.envs.engine.textmap import parse
from mazearena.training import TrainConfig, train
from mazearena.training.algorithms.ppo import PPO, PPOConfig
from mazearena.training.checkpoint import load_checkpoint
from mazearena.training.config import EnvConfig
from mazearena.training.curriculum import LevelBuffer, PLRConfig, edit_level, segments


def test_the_buffer_keeps_the_highest_scores_and_replays_by_rank_and_staleness():
    buf = LevelBuffer(3)
    for level, score in ((10, 0.1), (11, 0.5), (12, 0.3)):
        assert buf.offer(level, score) >= 0
    assert buf.offer(13, 0.05) == -1  # below every score: not in
    slot = buf.offer(14, 0.4)  # replaces the lowest (10)
    assert 10 not in buf.where and buf.where[14] == slot and buf.count == 3
    p = buf.probabilities(temperature=1.0, staleness_coef=0.0)
    by_level = {int(buf.ids[i]): float(p[i]) for i in range(3)}
    assert by_level[11] == pytest.approx(1 / (1 + 1 / 2 + 1 / 3))  # rank 1 of 3: 1 / rank, normalised
    assert by_level[11] > by_level[14] > by_level[12]
    cold = buf.probabilities(temperature=0.01, staleness_coef=0.0)
    assert float(cold.max()) > 0.999  # a low temperature replays the top level
    buf.seen[:] = torch.tensor([5, 0, 5])
    buf.tick = 5
    stale = buf.probabilities(temperature=1.0, staleness_coef=1.0)
    assert stale.tolist() == [0.0, 1.0, 0.0]  # only the level not replayed since tick 0 is stale
    gen = torch.Generator().manual_seed(0)
    slots = buf.sample(100, PLRConfig(temperature=0.01, staleness_coef=0.0), gen)
    assert set(slots.tolist()) == {buf.where[11]} and buf.tick == 105


def test_segments_split_each_games_steps_at_its_episode_starts():
    starts = torch.tensor([[0, 1], [1, 0], [0, 0], [0, 1]], dtype=torch.bool)  # [T=4, n=2]
    index, first, fresh = segments(starts)
    # game 0: rows 0 | 1 2 3 ; game 1: rows 0 1 2 | 3 (env-major flat order)
    assert index.tolist() == [0, 1, 1, 1, 2, 2, 2, 3]
    assert first.tolist() == [0, 1, 4, 7]
    assert fresh.tolist() == [False, True, True, True]  # game 0's first segment goes on from the last rollout


def test_edits_give_solvable_text_maps_or_nothing():
    layouts = generate(torch.arange(20), LayoutConfig(size=11, variant="key_door"))
    gen = torch.Generator().manual_seed(0)
    kept = 0
    for i in range(20):
        text = edit_level(layouts.grid[i], layouts.spawn_mask[i], -1, 4, gen)
        if text is not None:
            level = parse(text)  # reachable goal, one start: parse checks it
            kept += 1
            assert level.shape == (11, 11) and len(level.goals) == 1
            changed = (level.grid != layouts.grid[i]).sum()
            assert int(changed) <= 4 + 1  # the edits (a moved goal changes two cells)
    assert kept >= 10


def _config(tmp_path, curriculum, **overrides) -> TrainConfig:
    fields = dict(
        env=EnvConfig(size=7, num_levels=0, test_start_level=2**40),
        backbone="mlp",
        backbone_width=32,
        curriculum=curriculum,
        plr=PLRConfig(buffer_size=16, min_fill=0.25, edit_batch=4),
        ppo=PPOConfig(num_envs=16, num_steps=32, num_minibatches=2),
        total_timesteps=4096,
        checkpoint_every=1024,
        eval_every=0,
        eval_episodes=16,
        video_episodes=0,
        wandb_mode="offline",
        progress=False,
        runs_dir=tmp_path,
        name=curriculum,
    )
    return TrainConfig(**fields | overrides)


@pytest.mark.parametrize("curriculum", ["plr", "accel"])
def test_a_curriculum_trains_logs_its_buffer_and_writes_its_top_levels(tmp_path, curriculum, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    run = train(_config(tmp_path, curriculum))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in rows if "curriculum/buffer_fill" in r][-1]
    assert last["curriculum/buffer_fill"] == 1.0 and 0.0 < last["curriculum/replay_share"] <= 1.0
    assert (run / "curriculum" / "top_levels.png").is_file()
    maps = sorted((run / "curriculum").glob("*.txt"))
    assert len(maps) == 16 and all(parse(m.read_text()) for m in maps)
    state = load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["curriculum"]
    assert int((state["buffer"]["ids"] >= 0).sum()) == 16
    if curriculum == "accel":
        assert last["curriculum/children"] > 0
        edited = [slot for slot in state["texts"] if slot < 16]
        assert edited and all(int(state["buffer"]["ids"][s]) == EXTRA_BASE + s for s in edited)
    assert f"curriculum: {curriculum}" in (run / "config.yaml").read_text()


def test_kill_and_resume_continue_an_accel_run_exactly(tmp_path, crash_at):
    straight = train(_config(tmp_path / "a", "accel"))
    cfg = _config(tmp_path / "b", "accel")
    crash_at(PPO, 3)  # a crash in the third iteration, after a checkpoint
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    crash_at.undo()
    resumed = train(dataclasses.replace(cfg, resume=cfg.runs_dir / cfg.run_name))
    a, b = (load_checkpoint(run / "checkpoints" / "last.pt")["algo"] for run in (straight, resumed))
    assert a["global_step"] == b["global_step"]
    for key in ("ids", "scores", "seen"):
        assert torch.equal(a["curriculum"]["buffer"][key], b["curriculum"]["buffer"][key]), key
    assert a["curriculum"]["texts"] == b["curriculum"]["texts"]
    for x, y in zip(a["policy"].values(), b["policy"].values(), strict=True):
        assert torch.equal(x, y)


def test_the_chosen_levels_start_every_episode_and_the_walls_of_a_child_are_played():
    import mazearena
    from mazearena.envs.engine.textmap import map_tensors

    envs = mazearena.make_vec("mazearena/Maze-v0", 4, seed=0, size=9)
    child = parse("#########\n#S......#\n#######.#\n#G......#\n#########\n")
    envs.engine.levels.put_extra(torch.tensor([0]), map_tensors([child], 9, "cpu"), capacity=1)
    envs.engine.choose_levels = lambda idx: torch.full((len(idx),), EXTRA_BASE)
    envs.reset()
    assert envs.engine.level_ids.tolist() == [EXTRA_BASE] * 4
    assert bool((envs.engine.layout_grid(2)[2, 1:7] == int(Cell.WALL)).all())


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"curriculum": "plr", "algo": "dqn"}, "trains algo 'ppo' on mazes"),
        ({"curriculum": "paired"}, "curriculum"),
        ({"curriculum": "plr", "train_perturbations": ("obs_noise:0.1",)}, "do not go together"),
        ({"curriculum": "accel", "env": EnvConfig(env_id="mazearena/MazeMemory-v0", size=15)}, "memory task"),
        ({"plr": {"replay_prob": 1.5}}, "replay_prob"),
    ],
)
def test_bad_curriculum_settings_are_refused_by_name(overrides, message):
    if "plr" in overrides and isinstance(overrides["plr"], dict):
        with pytest.raises(ValueError, match=message):
            PLRConfig(**overrides["plr"])
        return
    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)
