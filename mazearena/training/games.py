"""A run's policy at play: held-out evaluation during training (:func:`evaluate_policy`), the GIFs of its episodes
and games, and :func:`arena_games`, which ``watch`` plays one frame at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mazearena.agents.dqn import QNetwork
from mazearena.agents.episodes import run_episodes, run_games
from mazearena.agents.mappo import MultiAgentActorCritic
from mazearena.agents.ppo import ActorCritic
from mazearena.training.algorithms import algorithm
from mazearena.training.config import TrainConfig
from mazearena.training.runs import make_actor, make_envs, victim_actor

EVAL_ENVS = 1024
"""The most games an evaluation plays at once: ``episodes`` up to this many are one episode per game, played
together (the longest episode, not a queue of them, sets how long an evaluation takes)."""


def eval_games(episodes: int) -> tuple[int, int]:
    """The games an evaluation of ``episodes`` episodes plays at once, and the episodes it then plays (whole
    rounds of them: ``episodes`` itself up to :data:`EVAL_ENVS`)."""
    games = min(episodes, EVAL_ENVS)
    return games, -(-episodes // games) * games


def evaluate_policy(
    policy: ActorCritic | QNetwork, cfg: TrainConfig, *, test: bool, episodes: int, seed: int, advance=None
) -> dict:
    """Success, return and length over ``episodes`` episodes on the training or the held-out levels
    (``advance(k)`` as ``k`` more end: a progress bar)."""
    envs = make_envs(cfg, eval_games(episodes)[0], test=test, seed=seed)
    device = torch.device(cfg.device)
    policy.eval()
    # the policy samples from an RNG of its own: evaluating does not shift the training's random stream
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []), torch.no_grad():
        torch.manual_seed(seed)
        try:
            actor = make_actor(cfg, policy)
            if algorithm(cfg.algo).arena:
                return run_games(envs, actor, episodes, cfg.scenario_team, advance)
            return run_episodes(envs, actor, episodes, advance)
        finally:
            policy.train()


def record_episodes(cfg: TrainConfig, policy: ActorCritic | QNetwork, path: Path) -> Path:
    """A GIF of the trained agent on held-out levels (any other Gymnasium env: fresh episodes). The policy
    samples from an RNG of its own, so a video during training does not shift the training's random stream."""
    import gymnasium as gym

    from mazearena.training.video import write_video

    if cfg.env.maze:
        env = gym.make(cfg.env.env_id, render_mode="rgb_array", **cfg.env.make_kwargs(test=True))
    else:
        env = gym.make(cfg.env.env_id.rpartition(":")[2], render_mode="rgb_array")
    frames: list[np.ndarray] = []
    actor = make_actor(cfg, policy)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 4)
        _play_into(env, actor, cfg, frames)
    env.close()
    return write_video(frames, path, fps=8)


def _play_into(env, actor, cfg: TrainConfig, frames: list) -> None:
    obs, _ = env.reset(seed=cfg.seed + 4)
    for _ in range(cfg.video_episodes):
        done, state = False, actor.initial_state(1, cfg.device)
        frames.append(env.render())
        while not done:
            action, state = actor.act(torch.as_tensor(obs, device=cfg.device)[None], state)
            obs, _, terminated, truncated, _ = env.step(int(action[0]))
            frames.append(env.render())
            done = terminated or truncated
        frames += [frames[-1]] * 3
        obs, _ = env.reset()


def record_games(cfg: TrainConfig, policy: MultiAgentActorCritic, path: Path) -> Path:
    """A GIF of the trained team playing the held-out scenario on held-out arenas."""
    from mazearena.training.video import write_video

    frames: list[np.ndarray] = []
    for frame, result in arena_games(cfg, policy, cfg.video_episodes, cfg.seed + 4):
        frames += [frame] * (4 if result is not None else 1)
    return write_video(frames, path, fps=8)


def arena_games(
    cfg: TrainConfig,
    policy: MultiAgentActorCritic,
    episodes: int,
    seed: int,
    *,
    test: bool = True,
    greedy: bool = False,
    explain=None,
):
    """Play ``episodes`` games of the run's scenario (``test``: its held-out twin on unseen arenas), one
    at a time; yields ``(frame, result)`` per frame, ``result`` being ``None`` until a game ends, then
    ``{"return", "length", "success", "winner"}`` (success: the learning team won; return summed over it).
    ``explain(frame, env, obs, state, alive)``, if given, draws over each frame the team is about to act on."""
    from mazearena.envs import arena_v0

    a = cfg.arena
    if cfg.adversary_of is not None:  # the adversary against its victim, every agent in play
        from mazearena.agents.league import Match
        from mazearena.envs.scenarios import scenario

        env = arena_v0.parallel_env(render_mode="rgb_array", **scenario(a.scenario_name).config, **a.make_kwargs(test))
        names, team = list(env.possible_agents), cfg.trained_team
        mine, victim = make_actor(cfg, policy, deterministic=greedy, team=team), victim_actor(cfg)
        actor = Match(*((mine, victim) if team == 0 else (victim, mine)), names, cfg.device)
    else:
        env = arena_v0.parallel_env(
            render_mode="rgb_array", scenario=a.heldout_name if test else a.scenario_name, **a.make_kwargs(test)
        )
        names = list(env.possible_agents)
        team = 0 if names[0].startswith("red") else 1
        actor = make_actor(cfg, policy, deterministic=greedy, team=team)
    own = [n.startswith(("red", "blue")[team]) for n in names]  # the learning team's agents: its return
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            ret, length, state = 0.0, 0, actor.initial_state(1, cfg.device)
            while env.agents:
                alive = torch.tensor([[n in obs for n in names]], device=cfg.device)
                stacked = _stack([obs.get(n) for n in names], cfg.device)
                frame = env.render()
                yield (frame if explain is None else explain(frame, env, stacked, state, alive)), None
                actions, state = actor.act(stacked, state, alive)
                actions = actions[0]
                obs, rewards, _, _, _ = env.step({n: int(actions[i]) for i, n in enumerate(names) if n in env.agents})
                ret += sum(r for n, r in rewards.items() if own[names.index(n)])
                length += 1
            winner = int(env.engine.leader()[0])
            yield env.render(), {"return": ret, "length": length, "success": winner == team, "winner": winner}
    finally:
        env.close()


def _stack(per_agent: list, device: str):
    """``[1, agents, ...]`` observations from a list of per-agent ones (``None`` for agents out of the game)."""
    like = next(o for o in per_agent if o is not None)
    if isinstance(like, dict):
        return {k: _stack([None if o is None else o[k] for o in per_agent], device) for k in like}
    rows = [np.zeros_like(like) if o is None else o for o in per_agent]
    return torch.as_tensor(np.stack(rows)[None], device=device)
