"""Can the network represent the memory maze's policy at all? Behaviour cloning of the BFS oracle (which knows the
cue) on MazeMemory-v0, held-out levels: the diagnosis the memory page of the docs reports.

The oracle walks the shortest path to the paying goal; its (observation, action) pairs on training levels are
cloned by cross-entropy into the network a PPO run would train (``ActorCritic``: backbone, optional core,
policy head). A recurrent network learns on chunks of ``--chunk`` steps of each game, its state from zeros at
the chunk start, the steps before the chunk's first episode start left out of the loss (their cue came before
the chunk). The clone then plays held-out levels, sampled and greedy.

    python scripts/memory_diagnosis.py --view full --core none      # (a) the cue always in view, no memory
    python scripts/memory_diagnosis.py --view partial --core gru    # (b) partial view, a recurrent core
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import mazearena
from mazearena.actor import PolicyActor
from mazearena.agents.baselines import SolverPolicy
from mazearena.agents.episodes import play_episodes, summarise_episodes
from mazearena.agents.policies import ActorCritic


def collect(args) -> dict[str, torch.Tensor]:
    """``--samples`` oracle steps on the training levels: observations, actions and episode starts, ``[T, N]``."""
    n = args.num_envs
    steps = -(-args.samples // n)
    env = mazearena.make_vec(args.env, n, seed=args.seed, **options(args, test=False))
    oracle = SolverPolicy(env.engine)
    obs, _ = env.reset(seed=args.seed)
    first = torch.ones(n, dtype=torch.bool)
    out_obs = torch.zeros(steps, *obs.shape, dtype=obs.dtype)
    out_act = torch.zeros(steps, n, dtype=torch.long)
    out_first = torch.zeros(steps, n, dtype=torch.bool)
    for t in range(steps):
        action = oracle()
        out_obs[t], out_act[t], out_first[t] = obs, action, first
        obs, _, terminated, truncated, _ = env.step(action)
        first = terminated | truncated
    return {"obs": out_obs, "actions": out_act, "first": out_first, "space": env.single_observation_space}


def options(args, test: bool) -> dict:
    levels = {"num_levels": 0, "start_level": 1_000_000} if test else {"num_levels": args.levels, "start_level": 0}
    memory = {"memory_goals": args.goals} if args.env == "mazearena/MazeMemory-v0" else {}
    return {"size": args.size, "obs_mode": args.view} | memory | levels


def clone(args, data: dict) -> tuple[ActorCritic, list[float]]:
    """The network trained by cross-entropy on the oracle's actions; returns it and its loss every 100 updates."""
    torch.manual_seed(args.seed)
    net = ActorCritic(data["space"], 4, args.backbone, core=args.core, core_size=args.core_size)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    obs, actions, first = data["obs"], data["actions"], data["first"]
    steps, n = actions.shape
    losses = []
    for update in range(args.updates):
        if args.core == "none":
            rows = torch.randint(0, steps * n, (args.batch,))
            logits = net(obs.flatten(0, 1)[rows])[0]
            loss = torch.nn.functional.cross_entropy(logits, actions.flatten()[rows])
        else:
            games = torch.randint(0, n, (args.batch // args.chunk,))
            start = int(torch.randint(0, steps - args.chunk + 1, ()))
            window = slice(start, start + args.chunk)
            o, a, f = obs[window][:, games], actions[window][:, games], first[window][:, games].clone()
            seen = f.cumsum(0) > 0  # steps from the chunk's first episode start on
            f[0] = True
            logits, _ = net.sequence(o.flatten(0, 1), net.initial_state(len(games), "cpu"), f)
            loss = (torch.nn.functional.cross_entropy(logits, a.flatten(), reduction="none") * seen.flatten()).sum()
            loss = loss / seen.sum().clamp(min=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if update % 100 == 0:
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
    p.add_argument("--core", choices=("none", "gru", "lstm"), default="none")
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
    args = p.parse_args()
    begin = time.time()
    data = collect(args)
    net, losses = clone(args, data)
    result = {"args": vars(args), "samples": int(data["actions"].numel()), "losses": losses[::5] + losses[-1:]}
    result |= evaluate(args, net) | {"seconds": round(time.time() - begin)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
