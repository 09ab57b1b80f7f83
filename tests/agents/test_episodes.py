"""The episode harness: a fixed number of episodes per game; finished games cost no forward pass."""

import torch

import mazearena
from mazearena.agents.episodes import play_episodes, play_games
from mazearena.agents.league import play_match
from mazearena.envs import arena_v0


def test_each_game_plays_its_share_and_finished_games_are_not_asked_to_act():
    env = mazearena.make_vec("mazearena/Maze-v0", 16, seed=0, size=9, max_episode_steps=60)
    g = torch.Generator().manual_seed(0)
    sizes = []

    def act(obs):
        sizes.append(obs.shape[0])
        return torch.randint(0, 4, (obs.shape[0],), generator=g)

    out = play_episodes(env, act, 48)
    assert len(out["return"]) == 48
    assert sorted(out["env_index"]) == sorted(list(range(16)) * 3)  # three episodes from every game
    assert sizes[0] == 16 and min(sizes) < 16  # games that are done drop out of the forward pass


def test_games_of_different_lengths_in_arenas_and_matches():
    env = arena_v0.vector_env(8, seed=0, scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=60)
    g = torch.Generator().manual_seed(1)
    sizes = []

    def act(obs, alive):
        sizes.append(alive.shape[0])
        return torch.randint(0, 5, alive.shape, generator=g)

    out = play_games(env, act, 16, team=0)
    assert len(out["return"]) == 16 and min(sizes) < 8

    class Random:
        def act(self, obs, alive):
            sizes.append(alive.shape[0])
            return torch.randint(0, 6, alive.shape, generator=g)

    sizes.clear()
    both = arena_v0.vector_env(8, seed=0, mode="combat", red=1, blue=1, size=9, layout="open", max_cycles=200)
    result = play_match(both, Random(), Random(), 16)
    assert result["games"] == 16 and min(sizes) < 8
    assert abs(result["red_win"] + result["draw"] + result["blue_win"] - 1.0) < 1e-9


def test_an_actor_that_reads_the_engine_acts_for_every_game_to_the_end():
    from mazearena.agents.baselines import scripted_team
    from mazearena.envs.scenarios import scenario

    env = arena_v0.vector_env(4, seed=0, scenario="ctf_2v2_vs_guard_and_runner", size=9)
    script = scripted_team(env, scenario("ctf_2v2_vs_guard_and_runner").scripted)
    assert script.whole_batch
    calls = []
    act = script.act
    script.act = lambda obs, state, alive=None: (calls.append(obs.shape[0]), act(obs, state, alive))[1]
    out = play_games(env, script, 12, team=0)  # games end at different steps: a policy would get fewer rows
    assert len(out["success"]) == 12 and set(calls) == {4}
    assert sum(out["winner"][i] != -1 for i in range(12)) > 0  # the script decides some of the games
