"""``watch`` in a window: Esc quits, space pauses, the right arrow steps once while paused, +/- change the speed,
and the side panel shows the step, the return, the action probabilities and the value."""

import numpy as np
import pytest

from mazearena.apps.watch import WatchConfig, watch
from mazearena.envs import render
from mazearena.training import EnvConfig, TrainConfig, train


@pytest.fixture(scope="module")
def run(tiny_maze_run):
    return tiny_maze_run


def test_keys_pause_step_speed_and_quit_and_the_panel_shows_the_network(run, monkeypatch):
    script = {2: "SPACE", 6: "RIGHT", 9: "PLUS", 10: "ESCAPE"}  # frame shown -> key pressed after it
    shown, panels, fps = [], [], []
    real = render.Window.show

    def show(self, frame, panel=None, panel_width=0):
        real(self, frame, panel, panel_width)
        shown.append(frame)
        panels.append(panel)
        fps.append(self.fps)
        key = script.get(len(shown))
        if key:
            self._pg.event.post(self._pg.event.Event(self._pg.KEYDOWN, key=getattr(self._pg, f"K_{key}")))

    monkeypatch.setattr(render.Window, "show", show)
    results = watch(WatchConfig(run=run, episodes=2, fps=100, seed=5))
    assert results == [] and len(shown) == 10  # Esc ended it in the first episode
    steps = [int(p[0].split()[1]) for p in panels]
    # space after the second frame paused at step 1; the right arrow after the sixth stepped once
    assert steps == [0, 1, 1, 1, 1, 1, 2, 2, 2, 2]
    assert fps[-1] > fps[0]  # + played faster
    assert any(line.startswith("value ") for line in panels[0]) and "action probabilities" in panels[0]


def _tinted(frame) -> np.ndarray:
    """Where the saliency overlay tints (red well above green and blue)."""
    f = frame.astype(np.int32)
    return (f[..., 0] > 150) & (f[..., 0] > f[..., 1] + 80) & (f[..., 0] > f[..., 2] + 80)


def _red(frame) -> int:
    """Pixels tinted by the saliency overlay."""
    return int(_tinted(frame).sum())


@pytest.mark.parametrize("backbone", ["cnn", "transformer"])
def test_explain_draws_saliency_attention_and_the_panel_into_recordings(backbone, run, tmp_path, monkeypatch):
    import imageio.v3 as iio

    from mazearena.agents import explain

    if backbone == "transformer":
        cfg = TrainConfig(runs_dir=tmp_path, name="t", env=EnvConfig(size=7), backbone="transformer", progress=False)
        cfg.total_timesteps, cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 256, 8, 16, 2
        cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = 0, 0, 8, "disabled"
        run = train(cfg)
    calls = {"saliency": 0, "attention": 0}
    for name, key in (("occlusion_saliency", "saliency"), ("cls_attention", "attention")):
        real = getattr(explain, name)

        def counted(*args, _real=real, _key=key, **kwargs):
            calls[_key] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(explain, name, counted)
    plain, explained = tmp_path / "plain.gif", tmp_path / "explain.gif"
    watch(WatchConfig(run=run, episodes=1, seed=2, tile=16, record=plain))
    steps = watch(WatchConfig(run=run, episodes=1, seed=2, tile=16, record=explained, explain=True))[0]["length"]
    a, b = iio.imread(plain, index=None), iio.imread(explained, index=None)
    assert b.shape[2] == a.shape[2] + 250 and b.shape[1] >= a.shape[1]  # the game, with the side panel
    assert calls["saliency"] == steps  # one explanation per decision
    assert calls["attention"] == (steps if backbone == "transformer" else 0)
    assert len(b) >= steps  # every step a frame of its own (the panel's step count differs)
    game = b[:, : a.shape[1], : a.shape[2]]
    # the overlay shows: at least a tile's worth more red per frame than the plain game (whose agent is red)
    assert np.mean([_red(f) for f in game]) > np.mean([_red(f) for f in a]) + 100
    assert b[0, :, a.shape[2] :].max() > 200  # panel text


def test_explain_in_the_window_adds_the_legend_to_the_panel(run, monkeypatch):
    panels = []

    def show(self, frame, panel=None, panel_width=0):
        panels.append(panel)
        self.close()

    monkeypatch.setattr(render.Window, "show", show)
    watch(WatchConfig(run=run, episodes=1, fps=100, explain=True))
    assert "red: saliency (occlusion)" in panels[0]


@pytest.mark.parametrize("obs_mode,backbone", [("tokens", "transformer"), ("grid", "cnn")])
def test_explain_in_arenas_follows_the_selected_agent_and_tab_selects_the_next(
    obs_mode, backbone, tmp_path, monkeypatch
):
    from mazearena.training.algorithms.mappo import MAPPOConfig
    from mazearena.training.config import ArenaEnvConfig

    arena = ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", max_cycles=12, size=9, num_levels=20, obs_mode=obs_mode)
    cfg = TrainConfig(
        runs_dir=tmp_path,
        name="tag",
        algo="mappo",
        backbone=backbone,
        arena=arena,
        progress=False,
        mappo=MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
    )
    cfg.total_timesteps, cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = (
        256,
        0,
        0,
        8,
        "disabled",
    )
    run = train(cfg)
    plain, explained = tmp_path / "plain.gif", tmp_path / "explain.gif"
    played = watch(WatchConfig(run=run, episodes=1, seed=1, record=plain))
    assert watch(WatchConfig(run=run, episodes=1, seed=1, record=explained, explain=True)) == played  # the same game
    a, b = iio_read(plain), iio_read(explained)
    assert b.shape[2] == a.shape[2] + 250
    game = b[:, : a.shape[1], : a.shape[2]]  # (a GIF merges equal frames: the panel's step keeps more apart)
    assert sum(int(_tinted(g).sum()) for g in game) > sum(int(_tinted(f).sum()) for f in a)  # saliency tints it
    # in the window, Tab moves the explanation to the next agent of the team; the panel shows the game and the keys
    panels = []
    real = render.Window.show

    def show(self, frame, panel=None, panel_width=0):
        real(self, frame, panel, panel_width)
        panels.append(panel)
        if len(panels) == 2:
            self._pg.event.post(self._pg.event.Event(self._pg.KEYDOWN, key=self._pg.K_TAB))
        if len(panels) == 5:
            self.close()

    monkeypatch.setattr(render.Window, "show", show)
    watch(WatchConfig(run=run, episodes=1, seed=1, fps=100, explain=True))
    first = next(line for line in panels[1] if line.startswith("explaining"))
    assert first != next(line for line in panels[3] if line.startswith("explaining"))  # red_0, then red_1
    assert {"game 1/1, won 0", "step 1", "space pause  +/- speed  Esc quit"} <= set(panels[1]), panels[1]
    assert any(line.startswith("team return") for line in panels[1])


def iio_read(path):
    import imageio.v3 as iio

    return iio.imread(path, index=None)


def test_a_sampling_policy_replays_the_same_episodes_for_the_same_seed(run, tmp_path):
    import imageio.v3 as iio
    import torch

    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = tmp_path / "a.gif", tmp_path / "b.gif"
    first = watch(WatchConfig(run=run, episodes=2, seed=4, record=a))
    again = watch(WatchConfig(run=run, episodes=2, seed=4, record=b))
    assert first == again and np.array_equal(iio.imread(a, index=None), iio.imread(b, index=None))
    assert torch.equal(torch.get_rng_state(), before)  # the caller's random stream is left as it was


def test_watch_and_play_take_drawn_mazes_and_name_a_bad_one(run, tmp_path, monkeypatch):
    from mazearena.apps.play import PlayConfig, play
    from mazearena.checks import UserError

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    maze = tmp_path / "room.txt"
    maze.write_text("#########\n#>.....G#\n#########\n")
    record = tmp_path / "drawn.gif"
    results = watch(WatchConfig(run=run, episodes=1, seed=0, tile=8, record=record, layout=str(maze)))
    assert record.stat().st_size > 0 and results[0]["length"] >= 1
    frames = play(PlayConfig(layout=str(maze), keys=("right",) * 6, max_frames=8, fps=1000))
    assert frames.episodes and frames.episodes[0]["success"]  # six steps east reach the goal
    bad = tmp_path / "bad.txt"
    bad.write_text("S.x\n..G\n")
    with pytest.raises(UserError, match="bad.txt:1:3: unknown character"):
        WatchConfig(run=run, layout=str(bad))
    with pytest.raises(UserError, match="bad.txt:1:3"):
        PlayConfig(layout=str(bad), max_frames=1)


def test_panel_text_wraps_inside_the_panel_in_the_window_and_in_recordings():
    """The key hints and long panel lines were cut at the panel's right edge."""
    long = "space pause  +/- speed  Esc quit  Tab next agent  and more words than the panel holds"
    assert render.wrap_lines([long], lambda text: len(text) <= 30) == [
        "space pause  +/- speed  Esc",
        "  quit  Tab next agent  and",
        "  more words than the panel",
        "  holds",
    ]
    image = render.panel_image([long], 250, 120)
    assert (image[:, -8:] == image[0, -1]).all()  # nothing drawn at the right edge
    window = render.Window("test", (100 + 250, 200), fps=0)
    try:
        window.show(np.zeros((200, 100, 3), np.uint8), [long], 250)
        screen = window._pg.surfarray.array3d(window.screen).transpose(1, 0, 2)
        assert (screen[:, -8:] == (24, 24, 28)).all()  # the window's panel: the same
        assert (screen[:, 110:340] != (24, 24, 28)).any()  # and the text is there
    finally:
        window.close()
