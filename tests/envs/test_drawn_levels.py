"""Text maps in the envs: ``gym.make(layout=...)``, ``make_vec(layouts=[...])``, the start and facing a map draws,
one goal of several per episode (seeded, the same on both backends), the bank of levels given as tensors, and the
training section's ``layouts``."""

import gymnasium as gym
import pytest
import torch

import mazearena
from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.layouts import LayoutConfig, generate
from mazearena.envs.engine.levels import EXTRA_BASE
from mazearena.envs.engine.textmap import MapError, layout_text, map_tensors, parse
from mazearena.mazes import FOLDER
from mazearena.training.config import EnvConfig

THREE_GOALS = """\
#########
#G.....G#
#.#####.#
#...v...#
#.#####.#
#...G...#
#########
"""


def test_a_drawn_map_starts_where_and_facing_as_drawn_and_plays_to_its_goal():
    env = gym.make("mazearena/Maze-v0", layout="S.G\n...\n", view_size=3)
    obs, info = env.reset(seed=0)
    engine = env.unwrapped.engine
    assert env.unwrapped.config.size == 11 and info["level_id"] == 0  # 4x5 with its ring, walled in: the id's size
    assert engine.pos[0].tolist() == [1, 1] and int(engine.heading[0]) == 1  # S: facing east
    _, reward, terminated, _, info = env.step(1)
    _, reward, terminated, _, info = env.step(1)
    assert terminated and info["is_success"] and reward > 0.9


def test_one_goal_of_several_per_episode_drawn_from_the_seed_alike_on_both_backends():
    seen, per_backend = set(), {}
    for backend in ("numba", "torch"):
        envs = mazearena.make_vec("mazearena/Maze-v0", 48, seed=7, layouts=[THREE_GOALS], backend=backend)
        envs.reset()
        grids = envs.engine.grid.clone()
        assert bool(((grids == int(Cell.GOAL)).flatten(1).sum(1) == 1).all())  # exactly one goal a game
        assert envs.engine.heading.unique().tolist() == [2]  # v: facing south, every episode
        per_backend[backend] = grids
        seen |= {tuple(g.nonzero()[0].tolist()) for g in (grids == int(Cell.GOAL))}
    assert torch.equal(per_backend["numba"], per_backend["torch"])
    assert len(seen) == 3  # every goal is drawn in some game


def test_a_level_set_of_maps_a_folder_and_the_named_set_spread_over_the_games():
    envs = mazearena.make_vec("mazearena/Maze-v0", 64, seed=1, layouts=[str(FOLDER)])
    _, info = envs.reset()
    assert envs.config.num_levels == 12 and envs.config.size == 21
    assert len(set(info["level_id"].tolist())) >= 10
    one = mazearena.make_vec("mazearena/Maze-v0", 2, seed=1, layouts=[THREE_GOALS, str(FOLDER / "cross_13.txt")])
    assert one.config.num_levels == 2 and one.config.size == 13


def test_a_generated_level_written_as_a_map_plays_the_same_grid():
    config = LayoutConfig(size=11, variant="key_door")
    layouts = generate(torch.tensor([5]), config)
    env = gym.make("mazearena/Maze-v0", layout=layout_text(layouts, 0))
    env.reset(seed=0)
    assert torch.equal(env.unwrapped.engine.layout_grid(0), layouts.grid[0])


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"layout": "nowhere.txt"}, MapError, "nowhere.txt: no such file or folder"),
        ({"layout": "S.x\n..G\n"}, MapError, "<layout 0>:1:3: unknown character 'x'"),
        ({"layout": "S.G\n...\n", "variant": "memory", "size": 15}, ValueError, "not for variant 'memory'"),
        ({"layout": "S.G\n...\n", "layouts": ("S.G\n...\n",)}, ValueError, "not both"),
        ({"layouts": (3,)}, TypeError, "a layout is a map's text"),
    ],
)
def test_bad_layouts_are_refused_by_name(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        gym.make("mazearena/Maze-v0", **kwargs)


def test_an_empty_folder_of_maps_is_refused(tmp_path):
    with pytest.raises(MapError, match="holds no .txt map"):
        mazearena.make_vec("mazearena/Maze-v0", 2, layouts=[str(tmp_path)])


def test_levels_given_as_tensors_play_from_the_bank_beside_generated_ones():
    envs = mazearena.make_vec("mazearena/Maze-v0", 4, seed=0, size=9, num_levels=10)
    level = parse(THREE_GOALS)
    ids = envs.engine.levels.put_extra(torch.tensor([2]), map_tensors([level], 9, "cpu"), capacity=8)
    assert ids.tolist() == [EXTRA_BASE + 2]
    envs.reset(options={"level_ids": [3, EXTRA_BASE + 2, 4, EXTRA_BASE + 2]})
    engine = envs.engine
    assert engine.level_ids.tolist() == [3, EXTRA_BASE + 2, 4, EXTRA_BASE + 2]
    assert engine.pos[1].tolist() == [3, 4] and int(engine.heading[1]) == 2
    assert torch.equal(engine.layout_grid(1) == int(Cell.WALL), level.square(9) == int(Cell.WALL))
    with pytest.raises(ValueError, match="outside this env's level set"):
        envs.reset(options={"level_ids": [0, EXTRA_BASE + 8, 0, 0]})


def test_the_training_section_plays_maps_and_holds_out_generated_levels_of_their_size():
    env = EnvConfig(layouts=(str(FOLDER),))
    assert env.grid_size == 21 and env.time_limit == 4 * 21 * 21
    train, test = env.maze_config(), env.maze_config(test=True)
    assert train.num_levels == 12 and train.size == 21 and train.layouts
    assert test.layouts == () and test.size == 21 and test.num_levels == 0


def test_a_config_file_may_name_one_folder_of_maps(tmp_path):
    from mazearena.training.config import load_config

    path = tmp_path / "run.yaml"
    path.write_text(f"env:\n  layouts: {FOLDER}\n")
    cfg = load_config(path)
    assert cfg.env.layouts == (str(FOLDER),) and cfg.run_name == "ppo-cnn-21x21-seed0"
    (tmp_path / "bad.txt").write_text("S.G\n.x.\n")
    path.write_text(f"env:\n  layouts: [{tmp_path / 'bad.txt'}]\n")
    with pytest.raises(ValueError, match=r"run.yaml: .*bad.txt:2:2: unknown character 'x'"):
        load_config(path)
