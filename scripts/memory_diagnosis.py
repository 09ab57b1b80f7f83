"""Can the network represent the memory maze's policy at all? Behaviour cloning of the BFS oracle (which knows the
cue) on MazeMemory-v0, held-out levels: the diagnosis the memory page of the docs reports.

The oracle walks the shortest path to the paying goal; its (observation, action) pairs on training levels are
cloned by cross-entropy into the network a PPO run would train (``ActorCritic``: backbone, optional core,
policy head). A recurrent network learns on chunks of ``--chunk`` steps of each game, its state from zeros at
the chunk start, the steps before the chunk's first episode start left out of the loss (their cue came before
the chunk). The clone then plays held-out levels, sampled and greedy.

    python scripts/memory_diagnosis.py --view full --core none      # (a) the cue always in view, no memory
    python scripts/memory_diagnosis.py --view partial --core gru    # (b) partial view, a recurrent core

``--target value`` asks the critic's question instead: can the network *predict* whether an episode pays? A
walker heads for one goal drawn at random each episode (the paying one or a decoy, so half the episodes pay),
with ``--noise`` of its steps random; the value head learns the discounted return by squared error on the
same chunks, and the script reports the share of the return's variance it explains (R^2) on held-out levels
every 500 updates. A network that cannot tell the paying goal from the decoy stays near R^2 = 0.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import mazearena
from mazearena.actor import PolicyActor
from mazearena.agents.baselines import SolverPolicy
from mazearena.agents.cores import CORES
from mazearena.agents.episodes import play_episodes, summarise_episodes
from mazearena.agents.policies import ActorCritic
from mazearena.envs.engine.cells import Cell, table


class Walker(SolverPolicy):
    """Walks the shortest path to one goal drawn at random each episode (the paying goal or a decoy), a random
    action instead at a ``noise`` share of its steps."""

    def __init__(self, engine, noise: float, seed: int) -> None:
        super().__init__(engine)
        self.noise = noise
        self.generator = torch.Generator().manual_seed(seed)

    def goals(self, grid: torch.Tensor) -> torch.Tensor:
        """One goal of each grid, paying or decoy, becomes the plain goal; the others become floor."""
        grid = grid.clone()
        goals = torch.zeros_like(grid, dtype=torch.bool)
        for tile in table().tiles:
            if tile.terminal and tile.variant == "memory":
                goals |= grid == tile.code
        pick = (torch.rand(grid.shape, generator=self.generator) * goals).flatten(1).argmax(1)
        grid[goals] = Cell.FLOOR
        grid.view(len(grid), -1)[torch.arange(len(grid)), pick] = Cell.GOAL
        return grid

    def __call__(self) -> torch.Tensor:
        action = super().__call__()
        n = len(action)
        random = torch.randint(0, 4, (n,), generator=self.generator)
        return torch.where(torch.rand(n, generator=self.generator) < self.noise, random, action)


def collect(args, samples: int | None = None, test: bool = False) -> dict[str, torch.Tensor]:
    """``samples`` steps (``--samples``) of the oracle (``--target actions``) or the walker (``value``):
    observations, actions, episode starts and discounted returns, ``[T, N]``."""
    n = args.num_envs
    steps = -(-(samples or args.samples) // n)
    seed = args.seed + (10**6 if test else 0)
    env = mazearena.make_vec(args.env, n, seed=seed, **options(args, test=test))
    policy = SolverPolicy(env.engine) if args.target == "actions" else Walker(env.engine, args.noise, seed)
    obs, _ = env.reset(seed=seed)
    first = torch.ones(n, dtype=torch.bool)
    out_obs = torch.zeros(steps, *obs.shape, dtype=obs.dtype)
    out_act = torch.zeros(steps, n, dtype=torch.long)
    out_first = torch.zeros(steps, n, dtype=torch.bool)
    rewards, done = torch.zeros(steps, n), torch.zeros(steps, n, dtype=torch.bool)
    for t in range(steps):
        action = policy()
        out_obs[t], out_act[t], out_first[t] = obs, action, first
        obs, reward, terminated, truncated, _ = env.step(action)
        first = torch.as_tensor(terminated | truncated)
        rewards[t], done[t] = torch.as_tensor(reward), first
    returns, carry = torch.zeros(steps, n), torch.zeros(n)
    for t in reversed(range(steps)):  # the last steps' unfinished episodes count as ending there
        carry = returns[t] = rewards[t] + 0.99 * carry * ~done[t]
    return {
        "obs": out_obs,
        "actions": out_act,
        "first": out_first,
        "returns": returns,
        "space": env.single_observation_space,
    }


def options(args, test: bool) -> dict:
    levels = {"num_levels": 0, "start_level": 1_000_000} if test else {"num_levels": args.levels, "start_level": 0}
    memory = {"memory_goals": args.goals} if args.env == "mazearena/MazeMemory-v0" else {}
    return {"size": args.size, "obs_mode": args.view} | memory | levels


def heads(args, net: ActorCritic, obs: torch.Tensor, first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and values of ``obs [T, N, ...]``: row by row, or (with a core) each game's steps in order from
    the zero state, ``first [T, N]`` (true at the first step) resetting it."""
    if args.core == "none":
        logits, value = net(obs.flatten(0, 1))
    else:
        logits, value = net.sequence(obs.flatten(0, 1), net.initial_state(obs.shape[1], "cpu"), first)
    return logits, value.reshape(first.shape)


def explained(args, net: ActorCritic, test: dict) -> float:
    """R^2 of the value head on ``test``'s discounted returns, from each game's first episode start on."""
    with torch.no_grad():
        first = test["first"].clone()
        seen = first.cumsum(0) > 0
        first[0] = True
        value = heads(args, net, test["obs"], first)[1]
    target = test["returns"][seen]
    return round(1 - float(((value[seen] - target) ** 2).mean() / target.var()), 3)


def clone(args, data: dict, test: dict | None = None) -> tuple[ActorCritic, list[float]]:
    """The network trained by cross-entropy on the oracle's actions (``--target value``: squared error on the
    walker's returns); returns it and its loss every 100 updates (R^2 on ``test`` every 500 for ``value``)."""
    torch.manual_seed(args.seed)
    net = ActorCritic(data["space"], 4, args.backbone, core=args.core, core_size=args.core_size)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    obs, actions, first, returns = data["obs"], data["actions"], data["first"], data["returns"]
    steps, n = actions.shape
    losses = []
    for update in range(args.updates + 1):
        if test is not None and update % 500 == 0:
            losses.append(explained(args, net, test))
        if update == args.updates:
            break
        if args.core == "none":  # rows at random; as a chunk of one step each
            rows = torch.randint(0, steps * n, (args.batch,))
            o, a, g = obs.flatten(0, 1)[rows][None], actions.flatten()[rows][None], returns.flatten()[rows][None]
            f = seen = torch.ones(1, args.batch, dtype=torch.bool)
        else:
            games = torch.randint(0, n, (args.batch // args.chunk,))
            start = int(torch.randint(0, steps - args.chunk + 1, ()))
            window = slice(start, start + args.chunk)
            o, a, f = obs[window][:, games], actions[window][:, games], first[window][:, games].clone()
            g = returns[window][:, games]
            seen = f.cumsum(0) > 0  # steps from the chunk's first episode start on
            f[0] = True
        logits, value = heads(args, net, o, f)
        if args.target == "actions":
            each = torch.nn.functional.cross_entropy(logits, a.flatten(), reduction="none").view_as(seen)
        else:
            each = (value - g) ** 2
        loss = (each * seen).sum() / seen.sum().clamp(min=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if test is None and update % 100 == 0:
            losses.append(round(loss.item(), 4))
    return net, losses


def evaluate(args, net: ActorCritic) -> dict:
    """Success on held-out levels, sampled and greedy, and (sampled) on the training levels; how the other
    episodes ended (a decoy, or the time limit: on the plain maze there is no decoy)."""
    out = {}
    for name, deterministic, test in (("sampled", False, True), ("greedy", True, True), ("training", False, False)):
        env = mazearena.make_vec(args.env, 256, seed=args.seed + 10**6, **options(args, test=test))
        with torch.no_grad():
            records = play_episodes(env, PolicyActor(net.eval(), deterministic), args.eval_episodes)
        result = summarise_episodes(records)
        lost = [bool(t) and not s for s, t in zip(records["success"], records["terminated"], strict=True)]
        out[name] = {k: result[k] for k in ("success_rate", "success_ci95", "mean_length")}
        out[name]["decoy_rate"] = sum(lost) / len(lost)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="mazearena/MazeMemory-v0", help="a maze id (Maze-v0: the control without cue)")
    p.add_argument("--view", choices=("partial", "full"), default="partial")
    p.add_argument("--core", choices=CORES, default="none")
    p.add_argument("--backbone", default="cnn")
    p.add_argument("--core-size", type=int, default=128)
    p.add_argument("--size", type=int, default=9)
    p.add_argument("--goals", type=int, default=2)
    p.add_argument("--levels", type=int, default=500)
    p.add_argument("--samples", type=int, default=500_000)
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--updates", type=int, default=3000)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--chunk", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-episodes", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", choices=("actions", "value"), default="actions", help="clone actions or predict returns")
    p.add_argument("--noise", type=float, default=0.1, help="--target value: the walker's share of random steps")
    args = p.parse_args()
    begin = time.time()
    data = collect(args)
    result = {"args": vars(args), "samples": int(data["actions"].numel())}
    if args.target == "value":
        net, r2 = clone(args, data, collect(args, 50_000, test=True))
        result |= {"r2_every_500_updates": r2}
    else:
        net, losses = clone(args, data)
        result |= {"losses": losses[::5] + losses[-1:]} | evaluate(args, net)
    result |= {"seconds": round(time.time() - begin)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
