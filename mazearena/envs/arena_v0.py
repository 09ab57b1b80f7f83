"""``arena_v0``: team arenas (tag, capture the flag, combat) under the PettingZoo API.

``parallel_env(...)`` is a ``ParallelEnv``, ``env(...)`` its AEC form, ``vector_env(num_envs=...)`` the batched
multi-agent env for trainers. Keyword arguments are the fields of :class:`ArenaConfig`.
"""

from mazearena.envs.arena import ArenaParallelEnv, ArenaVectorEnv, env, parallel_env, raw_env, vector_env
from mazearena.envs.engine.arena import ArenaConfig, Mode

__all__ = ["ArenaConfig", "ArenaParallelEnv", "ArenaVectorEnv", "Mode", "env", "parallel_env", "raw_env", "vector_env"]
