import gymnasium as gym
import imageio.v3 as iio
import numpy as np
import pytest

import mazearena  # noqa: F401
from mazearena.apps.play import PlayConfig, play
from mazearena.envs.engine.cells import table
from mazearena.envs.engine.sprites import agent_tile, tile_atlas
from mazearena.envs.render import render_frame
from mazearena.training.video import write_video


def test_atlas_has_distinct_tiles_at_every_size():
    # a decoy looks exactly like the goal it imitates (its sprite); every other tile is told apart
    lookalikes = sum(t.sprite != t.name for t in table().tiles)
    for tile in (4, 8, 16, 32):
        atlas, num_tiles = tile_atlas(tile).numpy(), agent_tile() + 8
        assert atlas.shape == (num_tiles, tile, tile, 3)
        flat = atlas.reshape(num_tiles, -1)
        assert len({row.tobytes() for row in flat}) == num_tiles - lookalikes


def test_rgb_array_frame_highlights_the_field_of_view():
    env = gym.make("mazearena/Maze-v0", size=11, view_size=3, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (11 * 32, 11 * 32, 3) and frame.dtype == np.uint8
    engine = env.unwrapped.engine
    grid = engine.layout_grid(0).numpy()
    y, x = engine.pos[0].tolist()
    plain = render_frame(grid, (y, x), int(engine.heading[0]), False, None)
    changed = np.argwhere((frame != plain).any(-1))
    # Only the 3x3 view around the agent is tinted.
    assert changed[:, 0].min() >= (y - 1) * 32 and changed[:, 0].max() < (y + 2) * 32
    assert changed[:, 1].min() >= (x - 1) * 32 and changed[:, 1].max() < (x + 2) * 32


def test_human_mode_opens_steps_and_closes_a_window():
    env = gym.make("mazearena/MazeKeyDoor-v0", render_mode="human")
    env.reset(seed=0)
    for a in range(8):
        env.step(a % 4)
    window = env.unwrapped._window
    assert window is not None and not window.closed
    env.close()
    assert window.closed


def test_play_replays_keys_and_records(tmp_path):
    out = tmp_path / "play.gif"
    cfg = PlayConfig(size=7, keys=("up", "right", "down", "left", "r"), record=out, fps=1000, max_frames=5)
    result = play(cfg)
    assert result.steps == 4 and result.frames == 5
    assert iio.imread(out).shape[0] == 6  # the opening frame and one per frame shown
    assert play(PlayConfig(size=7, keys=("escape",), fps=1000)).frames == 0


def test_play_stops_after_max_frames_and_rejects_bad_input():
    assert play(PlayConfig(size=7, max_frames=3, fps=1000)).frames == 3
    with pytest.raises(ValueError, match="unknown key name 'upp'"):
        play(PlayConfig(size=7, keys=("upp",), fps=1000, max_frames=3))
    with pytest.raises(ValueError, match="env must be one of"):
        PlayConfig(env="CartPole-v1")


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_videos_are_written(tmp_path, suffix):
    frames = [np.full((32, 48, 3), i * 20, dtype=np.uint8) for i in range(6)]
    path = write_video(frames, tmp_path / "sub" / f"ep{suffix}", fps=5)
    assert path.exists() and path.stat().st_size > 0
    assert not list(path.parent.glob(".*tmp*"))
    assert iio.imread(path, index=0).shape[:2] == (32, 48)


def test_video_bad_input():
    with pytest.raises(ValueError, match="must end in .gif or .mp4"):
        write_video([np.zeros((8, 8, 3), np.uint8)], "x.avi")
    with pytest.raises(ValueError, match="no frames"):
        write_video([], "x.gif")
    with pytest.raises(ValueError, match="frames must be"):
        write_video([np.zeros((8, 8), np.uint8)], "x.gif")


@pytest.mark.parametrize("mode", ["tag", "ctf", "combat"])
def test_play_arena_steps_the_game_with_npcs_around_the_player(tmp_path, mode):
    out = tmp_path / "arena.gif"
    keys = ("right", "right", "space", "a" if mode == "combat" else "up", "r")
    result = play(PlayConfig(env="arena", mode=mode, team_size=2, keys=keys, record=out, fps=1000, max_frames=2))
    assert result.steps == 4 and result.frames == 2
    frames = iio.imread(out)
    assert frames.shape[0] == 6 and frames.shape[1] == 13 * 40
    assert not np.array_equal(frames[0], frames[4])  # NPCs and the player moved
    with pytest.raises(ValueError, match="mode must be one of"):
        PlayConfig(env="arena", mode="soccer")


def test_the_player_is_an_actor_playing_the_key_pressed():
    from mazearena.actor import Actor
    from mazearena.apps.play import Keyboard

    you = Keyboard()
    assert isinstance(you, Actor) and you.initial_state(1, "cpu") is None
    with pytest.raises(RuntimeError, match="before a key was pressed"):
        you.act(None, None)
    you.press(3)
    actions, state = you.act(None, None)
    assert actions.tolist() == [3] and state is None
    with pytest.raises(RuntimeError):  # a key plays once
        you.act(None, None)
