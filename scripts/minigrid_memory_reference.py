"""The reference beside ``mazearena train`` on MiniGrid's memory task: sb3-contrib's RecurrentPPO (an MLP + LSTM on
the flattened 7x7x3 view; MiniGrid's views are too small for SB3's NatureCNN) for the same env steps, then its
held-out success (return > 0) over fresh seeds.

    pip install minigrid sb3-contrib
    python scripts/minigrid_memory_reference.py --steps 300000 --episodes 256
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np


def make(env_id: str):
    import minigrid  # noqa: F401 - registers the MiniGrid ids
    from minigrid.wrappers import ImgObsWrapper

    return gym.wrappers.FlattenObservation(ImgObsWrapper(gym.make(env_id)))


def main() -> None:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="MiniGrid-MemoryS13Random-v0")
    p.add_argument("--steps", type=int, default=300_000)
    p.add_argument("--episodes", type=int, default=256)
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    envs = make_vec_env(lambda: make(args.env), n_envs=args.num_envs, seed=args.seed)
    model = RecurrentPPO("MlpLstmPolicy", envs, n_steps=128, batch_size=512, seed=args.seed, verbose=0)
    begin = time.time()
    model.learn(args.steps)
    seconds = time.time() - begin
    env = make(args.env)
    wins = []
    for episode in range(args.episodes):
        obs, _ = env.reset(seed=10**6 + episode)
        state, start, done, ret = None, np.ones((1,), dtype=bool), False, 0.0
        while not done:
            action, state = model.predict(obs[None], state=state, episode_start=start, deterministic=False)
            obs, reward, terminated, truncated, _ = env.step(int(action[0]))
            ret, start, done = ret + reward, np.zeros((1,), dtype=bool), terminated or truncated
        wins.append(ret > 0)
    result = {"env": args.env, "steps": args.steps, "seconds": round(seconds), "success": float(np.mean(wins))}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
