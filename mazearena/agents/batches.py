"""Observation batches as the algorithms handle them: a tensor, or a dict of tensors (arena tokens),
with the few operations rollouts and replay buffers need, and one env step that hands back torch tensors
whatever kind of vector env it is."""

from __future__ import annotations

import numpy as np
import torch


def to_device(x, device: torch.device):
    """Numpy arrays or tensors (or a dict of them) as tensors on ``device``."""
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    return torch.as_tensor(x, device=device)


def to_cpu(x):
    """``x`` (tensors, or dicts, lists and tuples of them) on the CPU: to compare, gather or save them."""
    if isinstance(x, torch.Tensor):
        return x.cpu()
    if isinstance(x, dict):
        return {k: to_cpu(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_cpu(v) for v in x)
    return x


def index(x, idx):
    return {k: v[idx] for k, v in x.items()} if isinstance(x, dict) else x[idx]


def put(buffer, idx, rows) -> None:
    """``buffer[idx] = rows`` for a tensor or dict buffer."""
    if isinstance(buffer, dict):
        for k in buffer:
            buffer[k][idx] = rows[k]
    else:
        buffer[idx] = rows


def clone(x):
    return {k: v.clone() for k, v in x.items()} if isinstance(x, dict) else x.clone()


def zeros(length: int, like):
    """A buffer ``[length, *like.shape]`` of ``like``'s dtype and device."""
    if isinstance(like, dict):
        return {k: zeros(length, v) for k, v in like.items()}
    return torch.zeros((length, *like.shape), dtype=like.dtype, device=like.device)


def flatten_steps(buffer):
    """``[steps, envs, ...]`` -> ``[steps * envs, ...]``."""
    if isinstance(buffer, dict):
        return {k: flatten_steps(v) for k, v in buffer.items()}
    return buffer.reshape(-1, *buffer.shape[2:])


def autocast(device: torch.device, enabled: bool):
    """Mixed precision for forward passes when ``enabled``: bfloat16 autocast (no loss scaling needed).
    Meant for GPUs; it runs on the CPU too, where it is usually slower."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def final_obs_rows(info: dict, rows: torch.Tensor, device: torch.device):
    """The final observations of the envs ``rows`` from a same-step-autoreset ``info``."""
    final = info["final_obs"]
    first = next(iter(final.values())) if isinstance(final, dict) else final
    if isinstance(first, torch.Tensor):  # mazearena vector envs: a batch on the device
        return to_device(index(final, rows), device)
    picked = [final[i] for i in rows.tolist()]  # numpy vector envs: an object array, one entry per env
    if isinstance(picked[0], dict):
        return {k: torch.as_tensor(np.stack([p[k] for p in picked]), device=device) for k in picked[0]}
    return torch.as_tensor(np.stack(picked), device=device)


def compiled(module: torch.nn.Module, enabled: bool, device: torch.device):
    """``module`` itself, or (``enabled``) its ``torch.compile``d forward — on CUDA in ``reduce-overhead`` mode,
    which replays CUDA graphs. Both share the module's parameters, so checkpoints are unchanged."""
    if not enabled:
        return module
    mode = "reduce-overhead" if torch.device(device).type == "cuda" else "default"
    return torch.compile(module, mode=mode, dynamic=False)


def step(envs, actions: torch.Tensor, device: torch.device):
    """``envs.step(actions)`` with everything returned as tensors on ``device`` (mazearena vector envs take
    and give tensors; other Gymnasium vector envs take numpy)."""
    native = getattr(envs, "device", None) is not None
    obs, reward, terminated, truncated, info = envs.step(actions if native else actions.cpu().numpy())
    return (
        to_device(obs, device),
        torch.as_tensor(reward, device=device).float(),
        torch.as_tensor(terminated, device=device).bool(),
        torch.as_tensor(truncated, device=device).bool(),
        info,
    )


def env_state(envs) -> dict:
    """What a checkpoint keeps of the envs a trainer steps: the engine's state (``engine``: a mazearena engine,
    under any Gymnasium wrappers; or the games' episode seeds of an outside PettingZoo env) and the state of a
    wrapper that has one of its own (``envs``: training perturbations, a self-play league). Empty for envs that
    keep nothing (other Gymnasium envs: a resumed run starts their episodes afresh)."""
    state = {}
    engine = getattr(getattr(envs, "unwrapped", envs), "engine", None)
    if engine is not None:
        state["engine"] = engine.state_dict()
    if hasattr(envs, "state_dict"):
        state["envs"] = envs.state_dict()
    return state


def load_env_state(envs, state: dict) -> None:
    """Restore :func:`env_state` (the keys a checkpoint has)."""
    if "engine" in state:
        getattr(envs, "unwrapped", envs).engine.load_state_dict(state["engine"])
    if "envs" in state:
        envs.load_state_dict(state["envs"])


def success_of(info: dict):
    """The ``is_success`` of every game's step, or ``None`` where the env has no notion of it. Where a game ended,
    the ended episode's: Gymnasium's own vector envs (same-step autoreset) move an ended game's info under
    ``final_info`` and put the next episode's first one in its place; mazearena's keep it in place."""
    final = info.get("final_info")
    if isinstance(final, dict) and "is_success" in final:
        ended = np.asarray(info["_final_info"], dtype=bool)
        now = np.asarray(info["is_success"], dtype=bool) if "is_success" in info else np.zeros_like(ended)
        return torch.as_tensor(np.where(ended, np.asarray(final["is_success"], dtype=bool), now))
    return info.get("is_success")


class Episodes:
    """Running return and length of every env, and sums over the episodes that ended since the last
    :meth:`metrics` that reported them. The sums stay on the device: updating never waits for the device (no
    host round-trip per step); :meth:`metrics` reads them once.

    Statistics are reported over windows of at least ``min_episodes`` finished episodes (default: one per env):
    early in training only the short episodes have ended (mostly successes), and a mean over the few of one
    iteration made every curve start at success 1.0 and look as if the agent got worse."""

    def __init__(self, num_envs: int, device: torch.device, min_episodes: int | None = None) -> None:
        self.ret = torch.zeros(num_envs, device=device)
        self.length = torch.zeros(num_envs, dtype=torch.long, device=device)
        self._sums = torch.zeros(5, dtype=torch.float64, device=device)  # count, return, length, successes, n
        self.min_episodes = num_envs if min_episodes is None else min_episodes

    def update(self, reward: torch.Tensor, done: torch.Tensor, info: dict) -> None:
        self.ret += reward
        self.length += 1
        d = done.to(torch.float64)
        ended = d.sum()
        success = success_of(info)
        if success is not None:
            success = torch.as_tensor(success).to(d.device, torch.float64)
            judged = [(success * d).sum(), ended]
        else:
            judged = [d.new_zeros(()), d.new_zeros(())]
        self._sums += torch.stack([ended, (self.ret * d).sum(), (self.length * d).sum(), *judged])
        keep = ~done
        self.ret *= keep
        self.length *= keep

    def metrics(self, partial: bool = False) -> dict[str, float]:
        """Mean return, length and success of the episodes that ended, then forget them; nothing (the sums kept
        for the next window) while fewer than ``min_episodes`` have ended, unless ``partial`` (the run's last
        row: whatever ended since the last window, so that a short run logs its episodes too)."""
        count, ret, length, successes, judged = self._sums.tolist()
        if count < (1 if partial else max(self.min_episodes, 1)):
            return {}
        self._sums.zero_()
        out = {}
        if count:
            out = {"episode/return": ret / count, "episode/length": length / count, "episode/count": count}
        if judged:
            out["episode/success"] = successes / judged
        return out

    def state_dict(self) -> dict:
        return {"ep_return": self.ret.clone(), "ep_length": self.length.clone(), "ep_sums": self._sums.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.ret.copy_(state["ep_return"])
        self.length.copy_(state["ep_length"])
        if "ep_sums" in state:  # checkpoints from before windows
            self._sums.copy_(state["ep_sums"])


class TeamEpisodes:
    """Per-agent running returns and sums over the games that ended since the last :meth:`metrics`, kept on the
    device (no host round-trip per step; :meth:`metrics` reads them once)."""

    def __init__(
        self,
        num_envs: int,
        agent_names: list[str],
        team_of: list[int],
        device: torch.device,
        mode: str = "",
        chasers: int = 0,
        winners: bool = True,
    ) -> None:
        self.names, self.team_of = agent_names, torch.tensor(team_of, device=device)
        self.mode, self.chasers = mode, chasers  # the mode names the counts; tag: the chasing team
        self.winners = winners  # whether a game has a winner (and scores); else only returns and lengths
        self.ret = torch.zeros(num_envs, len(agent_names), device=device)
        self.left = torch.zeros(num_envs, 2, device=device)  # agents of each team out of the game so far
        # sums over ended games: agent returns..., length, red won, blue won, drawn, score red/blue, out red/blue
        self._sums = torch.zeros(len(agent_names) + 8, dtype=torch.float64, device=device)
        self._count = torch.zeros((), dtype=torch.float64, device=device)
        self.min_games = num_envs  # report over windows of at least a game per env (see batches.Episodes)

    def update(self, reward: torch.Tensor, active: torch.Tensor, info: dict) -> None:
        self.ret += reward * active
        if "left_game" in info:
            self.left += info["left_game"].to(self.left.device)
        ended = info.get("_final_obs")
        if ended is None:
            return
        ended = ended.to(self.ret.device)
        winner = info["winner"].to(self.ret.device) if self.winners else torch.full_like(ended, -2, dtype=torch.long)
        score = info["score"].float() if self.winners else torch.zeros(len(ended), 2, device=self.ret.device)
        row = torch.cat(
            [
                self.ret,
                info["episode_length"][:, None].float(),
                torch.stack([winner == 0, winner == 1, winner == -1], 1).float(),
                score,
                self.left,
            ],
            1,
        )
        e = ended.to(torch.float64)
        self._sums += (row.double() * e[:, None]).sum(0)
        self._count += e.sum()
        keep = (~ended)[:, None]
        self.ret *= keep
        self.left *= keep

    def metrics(self, team: int, partial: bool = False) -> dict[str, float]:
        """Mean return of each agent and of the learning team, win/draw rates of ``team``, length, scores, and
        what the mode counts: captures (``ctf``), kills and deaths (``combat``), catches (``tag``); ``partial``:
        the games of an unfinished window too (the run's last row)."""
        count = float(self._count)
        if count < (1 if partial else max(self.min_games, 1)):
            return {}  # the sums are kept for the next window
        sums = (self._sums / count).tolist()
        self._sums.zero_()
        self._count.zero_()
        a = len(self.names)
        out = {f"agent/{name}/return": sums[i] for i, name in enumerate(self.names)}
        out |= {
            "episode/return": sum(sums[:a]),
            "episode/length": sums[a],
            "episode/success": sums[a + 1 + team],  # games won by the learning team (same key as PPO/DQN)
            "episode/count": count,
        }
        if self.winners:
            out |= {
                "episode/draw_rate": sums[a + 3],
                "episode/score_red": sums[a + 4],
                "episode/score_blue": sums[a + 5],
            }
        out_own, out_enemy = sums[a + 6 + team], sums[a + 7 - team]  # agents out of the game per game
        if self.mode == "ctf":
            out["episode/captures"] = sums[a + 4 + team]
            out["episode/captures_against"] = sums[a + 5 - team]
        elif self.mode == "combat":
            out["episode/kills"], out["episode/deaths"] = out_enemy, out_own
        elif self.mode == "tag":  # whichever side learns, the catches are the runners out of the game
            out["episode/catches"] = out_enemy if self.chasers == team else out_own
        return out

    def state_dict(self) -> dict:
        return {
            "team_ep_return": self.ret.clone(),
            "team_ep_left": self.left.clone(),
            "team_ep_sums": self._sums.clone(),
            "team_ep_count": self._count.clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.ret.copy_(state["team_ep_return"])
        self.left.copy_(state["team_ep_left"])
        if "team_ep_sums" in state:  # checkpoints from before windows
            self._sums.copy_(state["team_ep_sums"])
            self._count.copy_(state["team_ep_count"])
