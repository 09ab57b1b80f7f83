"""``watch`` in a window: Esc quits, space pauses, the right arrow steps once while paused, +/- change the speed,
and the side panel shows the step, the return, the action probabilities and the value."""

import pytest

from mazearena.apps.watch import WatchConfig, watch
from mazearena.envs import render
from mazearena.training import EnvConfig, TrainConfig, train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = TrainConfig(runs_dir=tmp_path_factory.mktemp("runs"), name="r", env=EnvConfig(size=7), progress=False)
    cfg.total_timesteps, cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 256, 8, 16, 2
    cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = 0, 0, 8, "disabled"
    return train(cfg)


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
