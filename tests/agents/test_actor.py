"""The stateful Actor contract: everything that plays a policy starts each game's state afresh with each episode.

A toy actor counts the steps since its state was reset; on the batched envs it checks that count against the
engine's own step counter at every step, elsewhere it logs the counts. It is played through the harness
(mazes and arenas), a match between two teams, cross-play teammates, and, registered as an algorithm's
actor, through training-time evaluation, the video and ``watch``.
"""

from __future__ import annotations

import pytest
import torch

import mazearena
from mazearena.actor import Actor, reset_where
from mazearena.agents.episodes import play_episodes, play_games
from mazearena.agents.league import Match
from mazearena.envs import arena_v0
from mazearena.evaluation.evaluate import Teammates
from mazearena.training.algorithms import ALGORITHMS, Algorithm, ppo


class Counter(Actor):
    """Acts at random; its state is each game's number of steps since the state was last reset."""

    def __init__(self, num_actions: int, engine=None, agents: int | None = None) -> None:
        self.num_actions, self.engine, self.agents = num_actions, engine, agents
        self.generator = torch.Generator().manual_seed(0)
        self.seen: list[torch.Tensor] = []
        self.checked = 0

    def initial_state(self, games: int, device) -> torch.Tensor:
        return torch.zeros(games, dtype=torch.long, device=device)

    def act(self, obs, state, alive=None):
        self.seen.append(state.clone())
        if self.engine is not None and len(state) == self.engine.num_envs:
            assert torch.equal(state, self.engine.t), "the actor's state was not reset where the episode began"
            self.checked += 1
        shape = (len(state),) if alive is None else (len(state), self.agents or alive.shape[1])
        return torch.randint(0, self.num_actions, shape, generator=self.generator), state + 1


def episodes_seen(actor: Counter) -> int:
    """How many episodes the logged counts began (a count of 0), checking that counts otherwise go up by one."""
    counts = [int(s[0]) for s in actor.seen]
    for before, after in zip(counts, counts[1:], strict=False):
        assert after in (0, before + 1)
    return counts.count(0)


def test_the_harness_restarts_the_state_of_every_maze_game_that_ends():
    env = mazearena.make_vec("mazearena/Maze-v0", 8, seed=0, size=7, max_episode_steps=12)
    actor = Counter(4, env.unwrapped.engine)
    out = play_episodes(env, actor, 24, subset=False)
    assert len(out["return"]) == 24 and actor.checked > 30
    assert any(bool((s == 0).any() and (s > 0).any()) for s in actor.seen)  # games restart at different steps


def test_the_harness_restarts_the_state_of_every_arena_game_that_ends():
    env = arena_v0.vector_env(8, seed=0, mode="tag", red=2, blue=2, size=9, max_cycles=10)
    actor = Counter(5, env.engine)
    out = play_games(env, actor, 16, team=0)
    assert len(out["return"]) == 16 and actor.checked >= 10


def test_a_match_and_cross_play_teammates_carry_each_actors_state():
    env = arena_v0.vector_env(4, seed=1, mode="combat", red=2, blue=2, size=9, max_cycles=8)
    red, blue = Counter(6, env.engine, agents=2), Counter(6, env.engine, agents=2)
    play_games(env, Match(red, blue, env.teams, env.device), 8, team=0)
    assert red.checked >= 8 and blue.checked >= 8
    first, second = Counter(6, env.engine, agents=4), Counter(6, env.engine, agents=4)
    play_games(env, Teammates(first, second, 1), 8, team=0)
    assert first.checked >= 8 and second.checked >= 8


def test_reset_where_restarts_nested_states_row_by_row():
    state = {"h": torch.ones(3, 2), "pair": (torch.full((3,), 5), None)}
    fresh = {"h": torch.zeros(3, 2), "pair": (torch.zeros(3, dtype=torch.long), None)}
    out = reset_where(state, torch.tensor([False, True, False]), fresh)
    assert out["h"].tolist() == [[1, 1], [0, 0], [1, 1]] and out["pair"][0].tolist() == [5, 0, 5]
    assert out["pair"][1] is None and reset_where(None, torch.tensor([True]), None) is None


@pytest.fixture
def counting_ppo(monkeypatch):
    """PPO whose trained network acts through a Counter (``made`` collects every actor the code asked for)."""
    made: list[Counter] = []

    def actor(cfg, policy, deterministic, team):
        made.append(Counter(4))
        return made[-1]

    algo = Algorithm(
        name="counting-ppo",
        section="ppo",
        network=ppo.ALGORITHM.network,
        trainer=ppo.ALGORITHM.trainer,
        steps_per_iteration=ppo.ALGORITHM.steps_per_iteration,
        actor=actor,
    )
    monkeypatch.setitem(ALGORITHMS, algo.name, algo)
    return made


def test_training_evaluation_videos_and_watch_act_through_the_algorithms_actor(tmp_path, counting_ppo):
    from mazearena.apps.watch import WatchConfig, watch
    from mazearena.training.algorithms.ppo import PPOConfig
    from mazearena.training.config import EnvConfig, TrainConfig
    from mazearena.training.loop import train

    cfg = TrainConfig(
        algo="counting-ppo",
        backbone="mlp",
        runs_dir=tmp_path,
        name="run",
        env=EnvConfig(size=7),
        ppo=PPOConfig(num_envs=8, num_steps=16),
        total_timesteps=256,
        checkpoint_every=128,
        eval_every=128,
        eval_episodes=16,
        video_episodes=2,
        wandb_mode="disabled",
        progress=False,
    )
    run = train(cfg)
    # evaluations at 128 and 256 steps and the report's two, then the video: all through the registered actor
    assert len(counting_ppo) == 5
    assert all(len(a.seen) > 0 for a in counting_ppo)
    video = counting_ppo[-1]
    assert episodes_seen(video) == 2
    results = watch(WatchConfig(run=run, episodes=3, record=tmp_path / "watch.gif"))
    assert episodes_seen(counting_ppo[-1]) == 3 and len(results) == 3
    assert sum(len(s) for s in counting_ppo[-1].seen) == sum(r["length"] for r in results)


def test_self_play_opponents_restart_their_states_and_keep_them_through_a_checkpoint(monkeypatch):
    import copy

    from mazearena.agents import league as league_module
    from mazearena.agents.league import League, LeagueConfig, SelfPlayVectorEnv
    from mazearena.agents.policies import MultiAgentActorCritic

    def make(seed: int) -> SelfPlayVectorEnv:
        base = arena_v0.vector_env(8, seed=seed, mode="ctf", red=2, blue=2, size=9, max_cycles=6)
        policy = MultiAgentActorCritic(base.single_observation_space, base.state_space, 2, base.single_action_space.n)
        # each league opponent acts through a Counter, as a recurrent snapshot would through its own actor
        n = base.single_action_space.n
        monkeypatch.setattr(league_module, "TeamPolicy", lambda net, team, other: Counter(n, agents=2))
        return SelfPlayVectorEnv(base, policy, League(LeagueConfig(opponent_groups=2), seed=seed), team=0)

    envs = make(0)
    envs.reset(seed=0)
    idle = torch.zeros(8, 2, dtype=torch.long)
    for _ in range(14):  # past two game ends (max_cycles=6)
        envs.step(idle)
        counts = torch.cat(envs.state_dict()["opponent_states"])
        assert torch.equal(counts, envs.engine.t), "an opponent's state was not restarted with its game"
    saved = copy.deepcopy(envs.state_dict())
    resumed = make(5)
    resumed.engine.load_state_dict(envs.engine.state_dict())
    resumed.load_state_dict(saved)
    assert torch.equal(torch.cat(resumed.state_dict()["opponent_states"]), envs.engine.t)
