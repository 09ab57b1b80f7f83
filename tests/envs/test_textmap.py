"""Text maps: reading, the wall ring, starts and goals, round trips (a drawn map and a generated level), and every
malformed map refused with file:line:column."""

import pytest
import torch

from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.grid import Heading
from mazearena.envs.engine.layouts import LayoutConfig, distance_to_goal, generate
from mazearena.envs.engine.textmap import MapError, layout_text, load, parse, to_text

ROOM = """\
; a room with two goals
#######
#S...G#
#.###.#

#G..K.#
#######
"""


def test_a_walled_map_is_taken_as_it_is_with_its_start_facing_and_goals():
    level = parse(ROOM, "room.txt")
    assert level.shape == (5, 7) and level.start == (1, 1) and level.facing is Heading.EAST
    assert level.goals == ((1, 5), (3, 1))
    assert int(level.grid[3, 4]) == int(Cell.KEY) and int(level.grid[0, 0]) == int(Cell.WALL)
    one = level.with_goal(1)  # an episode's goal: the others are floor
    assert int(one[3, 1]) == int(Cell.GOAL) and int(one[1, 5]) == int(Cell.FLOOR)
    square = level.square()
    assert square.shape == (7, 7) and bool((square[5:] == int(Cell.WALL)).all())  # walls beyond the map


@pytest.mark.parametrize("char,heading", [("S", "EAST"), (">", "EAST"), ("v", "SOUTH"), ("<", "WEST"), ("^", "NORTH")])
def test_a_map_without_its_ring_gets_one_and_the_start_character_sets_the_facing(char, heading):
    level = parse(f"{char}..\n..G\n")
    assert level.shape == (4, 5) and level.start == (1, 1) and level.goals == ((2, 3),)
    assert level.facing is Heading[heading]
    assert bool((level.grid[0] == int(Cell.WALL)).all()) and bool((level.grid[:, -1] == int(Cell.WALL)).all())


def test_text_to_level_to_text_and_a_generated_level_to_text_and_back():
    text = ROOM.split("\n", 1)[1].replace("\n\n", "\n")  # without the comment and the blank line
    assert to_text(parse(text).grid, parse(text).start, parse(text).facing) == text
    for variant in ("goal", "key_door", "hazards"):
        layouts = generate([3, 17], LayoutConfig(size=11, variant=variant, rooms=1))
        for i in range(2):
            drawn = layout_text(layouts, i)
            level = parse(drawn)
            assert torch.equal(level.grid, layouts.grid[i]), variant
            assert bool(layouts.spawn_mask[i][level.start])
            assert to_text(level.grid, level.start, level.facing) == drawn
    memory = generate([0], LayoutConfig(size=13, variant="memory"))
    with pytest.raises(ValueError, match="no map character stands for"):
        layout_text(memory)


def test_a_door_the_key_opens_is_reachable_and_a_goal_behind_it_without_a_key_is_not():
    assert parse("######\n#SKDG#\n######\n").goals == ((1, 4),)
    with pytest.raises(MapError, match=r"^m:2:5: the start \(line 2, column 2\) cannot reach this goal"):
        parse("######\n#S.DG#\n######\n", "m")
    solvable = parse("#######\n#S.#.G#\n#..#..#\n#.KD..#\n#######\n")
    without_key, _ = distance_to_goal(solvable.square()[None])
    assert int(without_key[0, 1, 1]) < 1000


MALFORMED = [
    ("######\n#S.xG#\n######\n", "bad.txt:2:4: unknown character 'x'"),
    ("\n; comment\n#####\n#S..G\n####\n", "bad.txt:5:5: ragged map: this line has 4 characters, the first line 5"),
    ("#####\n#...#\n#..G#\n#####\n", "bad.txt:1:1: no start"),
    ("#####\n#S.S#\n#..G#\n#####\n", "bad.txt:2:4: a second start ('S'); the first is at line 2, column 2"),
    ("#####\n#S..#\n#####\n", "bad.txt:1:1: no goal"),
    ("#######\n#S.#..#\n#..#.G#\n#######\n", "bad.txt:3:6: the start (line 2, column 2) cannot reach this goal"),
    ("#####\n#SLG#\n#####\n", "bad.txt:2:4: the start (line 2, column 2) cannot reach this goal"),
    ("#######\n#S.#.G#\n#..D..#\n#######\n", "bad.txt:2:6: the start (line 2, column 2) cannot reach"),  # no key
    ("S" + "." * 126 + "G\n", "bad.txt:1:1: the map is 3x130 cells with its wall ring; the largest is 127x127"),
    ("; only a comment\n\n", "bad.txt:1:1: the map is empty"),
    ("#####\n#S.G#\n#\t..#\n#####\n", "bad.txt:3:2: unknown character '\\t'"),
]


@pytest.mark.parametrize("text,message", MALFORMED)
def test_every_malformed_map_is_refused_with_file_line_and_column(text, message):
    with pytest.raises(MapError) as error:
        parse(text, "bad.txt")
    assert str(error.value).startswith(message), str(error.value)


def test_maps_load_from_files_and_errors_name_the_file(tmp_path):
    path = tmp_path / "room.txt"
    path.write_text(ROOM)
    assert load(path).source == str(path) and load(str(path)).goals == parse(ROOM).goals
    (tmp_path / "bad.txt").write_text("#####\n#S.x#\n")
    with pytest.raises(MapError, match=rf"^{tmp_path / 'bad.txt'}:2:4: unknown character"):
        load(tmp_path / "bad.txt")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MapError, match="1:1: not a text file"):
        load(tmp_path / "binary.txt")
    with pytest.raises(MapError, match="does not exist"):
        load(tmp_path / "missing.txt")


def test_the_named_set_ships_twelve_playable_mazes_from_13_to_21_cells():
    from mazearena.mazes import named, named_set, names

    mazes = named_set()
    assert len(mazes) >= 12 and list(mazes) == names()
    for name, level in mazes.items():
        assert 13 <= min(level.shape) and max(level.shape) <= 21, name
        assert level.source.endswith(f"{name}.txt")
    assert len(mazes["nine_rooms_19"].goals) == 3 and mazes["cross_13"].facing is Heading.NORTH
    with pytest.raises(ValueError, match="no named maze 'nope'; the set: comb_19"):
        named("nope")
