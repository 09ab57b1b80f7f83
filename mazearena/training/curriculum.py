"""Auto-curricula over maze levels (``--curriculum``): ``dr``, domain randomisation (each episode a level drawn
uniformly from the training set: the default); ``plr``, robust prioritised level replay; ``accel``, PLR that also
edits the levels it replays.

PLR keeps a buffer of levels scored by how much the agent still has to learn on them: the positive value loss (the
mean of the clipped GAE advantages of an episode, ``pvl``) or MaxMC (the mean gap between the highest return target
seen on the level, over its episodes' GAE returns, and the value estimates, ``maxmc``). At each episode start a
game replays a buffer level with probability ``replay_prob`` once the buffer is ``min_fill`` full, else it plays a
new level that is only scored.
Replayed levels are drawn by rank of score (``1 / rank`` to the power ``1 / temperature``) mixed with staleness
(``staleness_coef``: levels not replayed for long come back). Robust PLR (``robust``) learns only from replayed
levels: the steps on new levels count in the scores, not in the gradients.

ACCEL also takes the highest-scoring levels of each rollout's replays and edits them (walls added or removed, the
goal or the start moved, ``edits`` at a time); a child is kept only if its goal is reachable, is played once as a
new level and enters the buffer if it scores high enough. Edited levels are kept as text maps
(:mod:`~mazearena.envs.engine.textmap`) and played from the engine's bank of levels given as tensors.

The buffer, the children under evaluation and the random state are part of the checkpoint (exact ``--resume``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from mazearena.checks import UserError, check_fields, check_int, check_real
from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.levels import EXTRA_BASE
from mazearena.envs.engine.textmap import MapError, map_tensors, parse, to_text

CURRICULA = ("dr", "plr", "accel")


@dataclass
class PLRConfig:
    """The level buffer of ``curriculum`` plr and accel."""

    buffer_size: int = 4000
    """Levels the buffer holds. Robust PLR learns from buffer levels only, so the buffer is its training set: a small
    one is learned by heart (500 levels on 15x15 mazes: 0.92 solved in the buffer, 0.53 on new levels)."""
    replay_prob: float = 0.5
    """Chance that an episode replays a buffer level (once the buffer is ``min_fill`` full)."""
    temperature: float = 1.0
    """Temperature of the rank prioritisation (lower: the top levels more often; the papers' 0.3 gives the top
    level of a full buffer over half the replays)."""
    staleness_coef: float = 0.3
    """Weight of staleness against score in the replay distribution."""
    min_fill: float = 0.1
    """Share of the buffer filled before levels are replayed (robust PLR learns nothing before)."""
    score: Literal["pvl", "maxmc"] = "pvl"
    """Level score: positive value loss (``pvl``) or ``maxmc``."""
    robust: bool = True
    """Learn only from replayed levels (robust PLR); ``False`` learns from every step."""
    edits: int = 3
    """``accel``: edits made to a level to get a child."""
    edit_batch: int = 8
    """``accel``: children made per rollout, from its highest-scoring replayed levels."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_int("buffer_size", self.buffer_size, 1, 1_000_000)
        check_int("edits", self.edits, 1, 64)
        check_int("edit_batch", self.edit_batch, 1, 4096)
        for name in ("replay_prob", "staleness_coef", "min_fill"):
            check_real(name, getattr(self, name), 0.0, 1.0)
        check_real("temperature", self.temperature, 1e-3, 100.0)
        if self.score not in ("pvl", "maxmc"):
            raise UserError(f"score must be 'pvl' or 'maxmc', got {self.score!r}")


class LevelBuffer:
    """``size`` level ids with their scores, the tick they were last played at and the best return seen on each;
    empty slots hold id ``-1``."""

    def __init__(self, size: int) -> None:
        self.ids = torch.full((size,), -1, dtype=torch.long)
        self.scores = torch.zeros(size, dtype=torch.float64)
        self.seen = torch.zeros(size, dtype=torch.long)
        self.best = torch.full((size,), -float("inf"), dtype=torch.float64)
        self.tick = 0
        self.where: dict[int, int] = {}  # level id -> slot

    @property
    def count(self) -> int:
        return len(self.where)

    def probabilities(self, temperature: float, staleness_coef: float) -> torch.Tensor:
        """The replay distribution over slots: rank prioritisation mixed with staleness; empty slots 0."""
        full = self.ids >= 0
        scores = torch.where(full, self.scores, torch.full_like(self.scores, -float("inf")))
        rank = torch.empty_like(scores)
        rank[scores.argsort(descending=True, stable=True)] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
        weights = torch.where(full, (1.0 / rank) ** (1.0 / temperature), torch.zeros_like(rank))
        p_score = weights / weights.sum()
        stale = torch.where(full, (self.tick - self.seen).double(), torch.zeros_like(rank))
        p_stale = stale / stale.sum() if float(stale.sum()) > 0 else p_score
        return (1 - staleness_coef) * p_score + staleness_coef * p_stale

    def sample(self, k: int, cfg: PLRConfig, generator: torch.Generator) -> torch.Tensor:
        """``k`` slots drawn from the replay distribution (each draw a tick)."""
        p = self.probabilities(cfg.temperature, cfg.staleness_coef)
        slots = torch.multinomial(p, k, replacement=True, generator=generator)
        self.tick += k
        self.seen[slots] = self.tick
        return slots

    def offer(self, level_id: int, score: float) -> int:
        """Put a scored level in (a free slot, or that of the lowest score below it); its slot, or -1 if it did not
        score high enough. A level already in is updated."""
        if level_id in self.where:
            slot = self.where[level_id]
            self.scores[slot] = score
            return slot
        free = (self.ids < 0).nonzero()
        if len(free):
            slot = int(free[0])
        else:
            slot = int(self.scores.argmin())
            if score <= float(self.scores[slot]):
                return -1
            del self.where[int(self.ids[slot])]
        self.ids[slot], self.scores[slot], self.seen[slot] = level_id, score, self.tick
        self.best[slot] = -float("inf")
        self.where[level_id] = slot
        return slot

    def state_dict(self) -> dict:
        return {"ids": self.ids, "scores": self.scores, "seen": self.seen, "best": self.best, "tick": self.tick}

    def load_state_dict(self, state: dict) -> None:
        for name in ("ids", "scores", "seen", "best"):
            getattr(self, name).copy_(state[name])
        self.tick = int(state["tick"])
        self.where = {int(v): i for i, v in enumerate(self.ids.tolist()) if v >= 0}


def segments(starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The episode segments of a rollout ``[T, n]`` (``starts[t, e]``: game e's episode starts at step t), env by
    env: each row's segment index (env-major flat order), the flat index of each segment's first row, and whether
    the segment is an episode's beginning (a game's first segment may go on from the last rollout)."""
    begins = starts.clone()
    begins[0] = True
    flat = begins.T.reshape(-1)
    index = flat.long().cumsum(0) - 1
    first = flat.nonzero().squeeze(1)
    return index, first, starts.T.reshape(-1)[first]


class Curriculum:
    """PLR or ACCEL for the games of one maze engine: picks the level of every episode that starts
    (:attr:`MazeEngine.choose_levels`), and after each rollout scores its episodes, updates the buffer, makes
    children (accel) and says which steps the update learns from."""

    def __init__(self, cfg: PLRConfig, method: str, engine, seed: int) -> None:
        if method not in ("plr", "accel"):
            raise ValueError(f"curriculum must be one of {', '.join(CURRICULA)}, got {method!r}")
        self.cfg, self.method, self.engine = cfg, method, engine
        self.buffer = LevelBuffer(cfg.buffer_size)
        self.generator = torch.Generator().manual_seed(seed * 7919 + 104729)
        n = engine.num_envs
        self.playing = torch.full((n,), -1, dtype=torch.long)  # buffer slot replayed, B + child, or -1 (new)
        self.texts: dict[int, str] = {}  # bank slot -> text map of an edited level (buffer slots and children)
        self.queue: list[int] = []  # children waiting to be played (bank slots from B)
        self.children = max(64, 4 * cfg.edit_batch)
        self.free = list(range(cfg.buffer_size, cfg.buffer_size + self.children))
        self.made = self.kept = 0
        self.last: dict[str, float] = {}
        engine.choose_levels = self.choose

    # ---------------------------------------------------------------- choosing levels
    def choose(self, idx: torch.Tensor) -> torch.Tensor:
        """The levels of the episodes the games ``idx`` start: a buffer level (replay), a child to evaluate
        (accel), or a new level of the training set."""
        idx = idx.cpu()
        k, cfg, levels = len(idx), self.cfg, self.engine.levels
        ids = levels.lo + (torch.rand(k, generator=self.generator, dtype=torch.float64) * levels.span).long()
        playing = torch.full((k,), -1, dtype=torch.long)
        ready = self.buffer.count >= max(1, cfg.min_fill * cfg.buffer_size)
        replay = (torch.rand(k, generator=self.generator) < cfg.replay_prob) & ready
        if bool(replay.any()):
            slots = self.buffer.sample(int(replay.sum()), cfg, self.generator)
            ids[replay], playing[replay] = self.buffer.ids[slots], slots
        for j in (~replay).nonzero().squeeze(1).tolist():
            if not self.queue:
                break
            child = self.queue.pop(0)
            ids[j], playing[j] = EXTRA_BASE + child, child
        self.playing[idx] = playing
        return ids.to(self.engine.device)

    # ---------------------------------------------------------------- after a rollout
    def update(
        self,
        levels: torch.Tensor,
        playing: torch.Tensor,
        starts: torch.Tensor,
        advantages: torch.Tensor,
        returns: torch.Tensor,
        values: torch.Tensor,
    ) -> torch.Tensor | None:
        """Score the rollout's episodes (``[T, n]`` tensors: each step's level, what it played, whether an episode
        starts there, its advantage, return and value), update the buffer, make children; returns the mask of the
        steps to learn from (robust: the replayed ones), or ``None`` for all."""
        levels, playing, starts = levels.cpu(), playing.cpu(), starts.cpu().bool()
        advantages, returns, values = (x.detach().double().cpu() for x in (advantages, returns, values))
        index, first, fresh = segments(starts)
        count = torch.bincount(index).double()
        seg_level, seg_playing = levels.T.reshape(-1)[first], playing.T.reshape(-1)[first]
        best = torch.full((len(first),), -float("inf"), dtype=torch.float64)
        best.scatter_reduce_(0, index, returns.T.reshape(-1), "amax")
        if self.cfg.score == "pvl":  # positive value loss: the clipped advantages
            gap = advantages.clamp(min=0).T.reshape(-1)
        else:  # MaxMC: the best return seen on the level less the value estimates
            replayed = (seg_playing >= 0) & (seg_playing < self.cfg.buffer_size)
            stored = self.buffer.best[seg_playing.clamp(0, self.cfg.buffer_size - 1)]
            known = torch.where(replayed, torch.maximum(stored, best), best)
            gap = known[index] - values.T.reshape(-1)
        scores = torch.zeros(len(first), dtype=torch.float64).index_add_(0, index, gap) / count
        parents = self._score(seg_level, seg_playing, fresh, scores, best)
        if self.method == "accel":
            self._edit(parents)
        replay_rows = (playing >= 0) & (playing < self.cfg.buffer_size)
        held = self.buffer.scores[self.buffer.ids >= 0]
        self.last = {
            "curriculum/replay_share": float(replay_rows.double().mean()),
            "curriculum/buffer_fill": self.buffer.count / self.cfg.buffer_size,
            "curriculum/score_mean": float(held.mean()) if len(held) else 0.0,
            "curriculum/score_max": float(held.max()) if len(held) else 0.0,
        }
        if self.method == "accel":
            edited = sum(1 for slot in self.texts if slot < self.cfg.buffer_size)
            self.last["curriculum/edited_share"] = edited / max(1, self.buffer.count)
            self.last["curriculum/children"] = self.made
        if not self.cfg.robust:
            return None
        return replay_rows.float().to(advantages.device)

    def _score(self, level, playing, fresh, scores, best) -> list[tuple[float, int]]:
        """Buffer updates from the segments' scores; the replayed levels of the rollout by score (accel's parents)."""
        B, buf = self.cfg.buffer_size, self.buffer
        parents: dict[int, float] = {}
        for lv, pl, new, score, top in zip(
            level.tolist(), playing.tolist(), fresh.tolist(), scores.tolist(), best.tolist(), strict=True
        ):
            if 0 <= pl < B:  # a replay: its slot still holds the level it replayed
                if int(buf.ids[pl]) == lv:
                    buf.scores[pl] = score
                    buf.best[pl] = max(float(buf.best[pl]), top)
                    parents[pl] = max(score, parents.get(pl, -float("inf")))
            elif new and pl >= B:  # a child's first look: into the buffer if it scores high enough
                self._admit_child(pl, score, top)
            elif new:
                slot = buf.offer(lv, score)
                if slot >= 0:
                    buf.best[slot] = top
                    self.texts.pop(slot, None)
        return sorted(((s, slot) for slot, s in parents.items()), reverse=True)

    def _admit_child(self, child: int, score: float, top: float) -> None:
        buf, levels = self.buffer, self.engine.levels
        text = self.texts.pop(child)
        self.free.append(child)
        slot = buf.offer(EXTRA_BASE + child, score)  # a child's id until it has a slot of its own
        if slot < 0:
            return
        del buf.where[EXTRA_BASE + child]
        buf.ids[slot], buf.best[slot] = EXTRA_BASE + slot, top
        buf.where[EXTRA_BASE + slot] = slot
        rows = tuple(t[child : child + 1].clone() for t in levels.extra)
        levels.put_extra(torch.tensor([slot]), rows, self._capacity)
        self.texts[slot] = text
        self.kept += 1

    @property
    def _capacity(self) -> int:
        return self.cfg.buffer_size + self.children

    # ---------------------------------------------------------------- accel's edits
    def _edit(self, parents: list[tuple[float, int]]) -> None:
        """Children of the highest-scoring replayed levels: ``edits`` random edits each, kept if solvable."""
        for _, slot in parents[: self.cfg.edit_batch]:
            if not self.free:
                return
            grid, spawn, facing = self._level(int(self.buffer.ids[slot]))
            text = edit_level(grid, spawn, int(facing), self.cfg.edits, self.generator)
            if text is None:
                continue
            child = self.free.pop(0)
            level = parse(text)
            self.engine.levels.put_extra(
                torch.tensor([child]), map_tensors([level], grid.shape[-1], self.engine.device), self._capacity
            )
            self.texts[child] = text
            self.queue.append(child)
            self.made += 1

    def _level(self, level_id: int) -> tuple[torch.Tensor, ...]:
        """The tensors of a level: from the bank (an edited level) or made (the training set's)."""
        levels = self.engine.levels
        if level_id >= EXTRA_BASE:
            return tuple(t[level_id - EXTRA_BASE].cpu() for t in levels.extra)
        return tuple(t[0].cpu() for t in levels.make(torch.tensor([level_id], device=self.engine.device)))

    # ---------------------------------------------------------------- checkpoints and reports
    def top_levels(self, k: int = 16) -> list[dict]:
        """The ``k`` highest-scoring buffer levels: id, score, and the text map (generated ones written out)."""
        full = (self.buffer.ids >= 0).nonzero().squeeze(1)
        order = full[self.buffer.scores[full].argsort(descending=True)][:k]
        out = []
        for slot in order.tolist():
            level_id = int(self.buffer.ids[slot])
            text = self.texts.get(slot)
            if text is None:
                grid, spawn, facing = self._level(level_id)
                start = tuple(int(v) for v in spawn.nonzero()[0])
                text = to_text(grid, start, max(0, int(facing)))
            edited = level_id >= EXTRA_BASE
            score = float(self.buffer.scores[slot])
            out.append({"level_id": -1 if edited else level_id, "edited": edited, "score": score, "text": text})
        return out

    def state_dict(self) -> dict:
        return {
            "buffer": self.buffer.state_dict(),
            "generator": self.generator.get_state(),
            "playing": self.playing.clone(),
            "texts": dict(self.texts),
            "queue": list(self.queue),
            "free": list(self.free),
            "made": self.made,
            "kept": self.kept,
        }

    def load_state_dict(self, state: dict) -> None:
        self.buffer.load_state_dict(state["buffer"])
        self.generator.set_state(state["generator"])
        self.playing.copy_(state["playing"])
        self.texts = {int(k): v for k, v in state["texts"].items()}
        self.queue, self.free = [int(q) for q in state["queue"]], [int(f) for f in state["free"]]
        self.made, self.kept = int(state["made"]), int(state["kept"])
        size = self.engine.config.size
        for slot, text in self.texts.items():  # the bank, rebuilt from the text maps
            self.engine.levels.put_extra(
                torch.tensor([slot]), map_tensors([parse(text)], size, self.engine.device), self._capacity
            )


def edit_level(
    grid: torch.Tensor, spawn: torch.Tensor, facing: int, edits: int, generator: torch.Generator
) -> str | None:
    """A child of a level as a text map: ``edits`` random edits (a wall added or removed, the goal moved, the start
    moved) inside its border; ``None`` if the result's goal cannot be reached (BFS, keys and doors included)."""
    grid, size = grid.clone(), grid.shape[-1]
    cells = spawn.reshape(-1).nonzero().squeeze(1)
    start = int(cells[torch.randint(len(cells), (1,), generator=generator)])
    start = (start // size, start % size)
    if facing < 0:
        facing = int(torch.randint(4, (1,), generator=generator))
    wall, floor, goal = int(Cell.WALL), int(Cell.FLOOR), int(Cell.GOAL)
    for _ in range(edits):
        kind = int(torch.randint(3, (1,), generator=generator))
        y, x = (int(v) for v in torch.randint(1, size - 1, (2,), generator=generator))
        if (y, x) == start:
            continue
        code = int(grid[y, x])
        if kind == 0 and code in (wall, floor):  # a wall added or removed
            grid[y, x] = floor if code == wall else wall
        elif kind == 1 and code == floor:  # a goal moved here
            goals = (grid == goal).nonzero()
            if len(goals):
                gy, gx = (int(v) for v in goals[torch.randint(len(goals), (1,), generator=generator)][0])
                grid[gy, gx], grid[y, x] = floor, goal
        elif kind == 2 and code == floor:  # the start moved here
            start = (y, x)
    try:
        return to_text(grid, start, facing) if parse(to_text(grid, start, facing)) else None
    except MapError:
        return None


def make_curriculum(cfg, envs) -> Curriculum | None:
    """The curriculum of a training run (``None`` for ``dr``), choosing the levels of ``envs``' engine from now."""
    if cfg.curriculum == "dr":
        return None
    return Curriculum(cfg.plr, cfg.curriculum, envs.engine, cfg.seed)


def report_curriculum(curriculum: Curriculum, run_dir, logger, step: int, k: int = 16) -> None:
    """The buffer's top ``k`` levels at the end of training: their text maps (``curriculum/``), a picture of them
    (``curriculum/top_levels.png``), and both in W&B (an image and a table)."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mazearena.envs.render import level_picture

    top = curriculum.top_levels(k)
    if not top:
        return
    out = Path(run_dir) / "curriculum"
    out.mkdir(parents=True, exist_ok=True)
    cols = min(4, len(top))
    rows = -(-len(top) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.6 * rows), squeeze=False)
    for i, (ax, level) in enumerate(zip(axes.flat, top, strict=False)):
        name = f"{i + 1:02d}-{'edited' if level['edited'] else level['level_id']}"
        (out / f"{name}.txt").write_text(f"; score {level['score']:.4f}\n" + level["text"], encoding="utf-8")
        ax.imshow(level_picture(parse(level["text"]), 10))
        ax.set_title(f"{'edited' if level['edited'] else level['level_id']}  {level['score']:.3f}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"{curriculum.method}: the buffer's top levels by score", fontsize=10)
    fig.tight_layout()
    path = out / "top_levels.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    logger.log_image(path, step, key="curriculum/top_levels")
    rows = [[i + 1, t["level_id"], t["edited"], t["score"], t["text"]] for i, t in enumerate(top)]
    logger.log_table("curriculum/top_levels_table", ["rank", "level_id", "edited", "score", "text"], rows, step)
