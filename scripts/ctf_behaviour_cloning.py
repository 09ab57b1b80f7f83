"""Behaviour cloning of a scenario's scripted team into the team network a ``mazearena train`` command would
build: the control that asks whether the network, from its own observations, can play as the script plays
(the script reads the whole game). DAgger-style: the games are played by a mix of the script and the network
(the script's share falls from 1 to ``--final-mix``) and every step is labelled with the script's actions.
Prints held-out win rates with 95% Wilson intervals and writes the network as a checkpoint that
``mazearena train ... --init-from FILE`` starts from.

    python scripts/ctf_behaviour_cloning.py --out bc.pt -- --env arena \\
        --arena.scenario ctf_3v2_vs_guard_and_runner --arena.size 11 --arena.view-size 9 --mappo.share-params
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from mazearena.agents import batches
from mazearena.agents.baselines import scripted_team
from mazearena.agents.episodes import summarise_episodes
from mazearena.apps.cli import _train_args
from mazearena.envs.scenarios import scenario
from mazearena.training.algorithms import algorithm
from mazearena.training.checkpoint import save_checkpoint
from mazearena.training.runs import make_actor, make_envs


def held_out(cfg, policy, games: int, seed: int) -> dict:
    """Held-out win rate of ``policy`` (sampled and most-likely actions)."""
    out = {}
    for mode, deterministic in (("stochastic", False), ("deterministic", True)):
        envs = make_envs(cfg, games, test=True, seed=seed)
        with torch.no_grad():
            out[mode] = summarise_episodes(cfg.task.play(cfg, envs, make_actor(cfg, policy, deterministic), games))
    return out


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (for --init-from)")
    p.add_argument("--iterations", type=int, default=60, help="rounds of play then training")
    p.add_argument("--games", type=int, default=64, help="games played at once")
    p.add_argument("--steps", type=int, default=64, help="steps of each round")
    p.add_argument("--epochs", type=int, default=4, help="passes over the kept data each round")
    p.add_argument("--keep", type=int, default=20, help="rounds of data kept (DAgger's aggregate)")
    p.add_argument("--final-mix", type=float, default=0.0, help="script's share of the acting at the end")
    p.add_argument("--minibatch", type=int, default=512, help="game steps per gradient step")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--eval-games", type=int, default=256)
    args = p.parse_args(argv[:split])
    cfg = _train_args(argv[split + 1 :])
    torch.manual_seed(cfg.seed)
    found = scenario(cfg.arena.scenario_name)
    if not found.scripted:
        sys.exit(f"scenario {found.name!r} has no scripted team to clone")
    envs = make_envs(cfg, args.games, test=False, seed=cfg.seed)
    policy = algorithm(cfg.algo).network(cfg, envs)
    if policy.recurrent:
        sys.exit("clone into a network without a core (--core none)")
    expert = scripted_team(envs, found.scripted)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    central = policy.centralized_critic
    obs, info = envs.reset(seed=cfg.seed)
    data: list[tuple] = []
    start = time.perf_counter()
    for it in range(args.iterations):
        mix = 1.0 + (args.final_mix - 1.0) * it / max(1, args.iterations - 1)
        round_ = []
        for _ in range(args.steps):
            alive = info["alive"]
            state = envs.state() if central else None
            target = expert.act()[0]
            with torch.no_grad():
                logits, _ = policy(obs, state, alive)
            own = torch.distributions.Categorical(logits=logits).sample()
            scripted = torch.rand(args.games) < mix
            round_.append((obs, state, alive, target))  # obs: a batch of the env's own (tensors)
            obs, _, _, _, info = envs.step(torch.where(scripted[:, None], target, own))
        data = [*data, [torch.cat(x) if x[0] is not None else None for x in zip(*round_, strict=True)]][-args.keep :]
        o, s, a, t = (torch.cat(x) if x[0] is not None else None for x in zip(*data, strict=True))
        total = correct = 0.0
        for _ in range(args.epochs):
            for mb in torch.randperm(len(t)).split(args.minibatch):
                alive = a[mb]
                logits, _ = policy(batches.index(o, mb), s[mb] if s is not None else None, alive)
                loss = torch.nn.functional.cross_entropy(logits[alive], t[mb][alive])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(alive.sum())
                correct += float((logits.argmax(-1) == t[mb])[alive].sum())
        print(
            f"round {it + 1}/{args.iterations}: script's share {mix:.2f}, agrees with the script on "
            f"{correct / total:.3f} of its steps, {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    policy.eval()
    save_checkpoint(args.out, {"algo": {"policy": policy.state_dict()}})
    result = held_out(cfg, policy, args.eval_games, seed=10_000)
    for mode, r in result.items():
        lo, hi = r["success_ci95"]
        print(f"held-out ({mode}): wins {r['success_rate']:.3f} ({lo:.3f}-{hi:.3f}), draws {r['draw_rate']:.3f}")
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
