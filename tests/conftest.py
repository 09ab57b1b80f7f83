import os

import pytest

# Windows open on SDL's dummy driver in tests (no screen, no sound card needed).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def pytest_addoption(parser):
    parser.addoption(
        "--device",
        default="cpu",
        choices=("cpu", "cuda"),
        help="where the device tests (those taking the `device` fixture) put the engines, networks and training "
        "runs; with cuda, only those tests run, and they skip when CUDA is absent",
    )


def pytest_collection_modifyitems(config, items):
    """On an accelerator only the tests that take ``device`` run: the others would test the CPU again."""
    if config.getoption("--device") == "cpu":
        return
    keep = [item for item in items if "device" in getattr(item, "fixturenames", ())]
    kept = set(map(id, keep))
    config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
    items[:] = keep


@pytest.fixture(scope="session")
def device(request) -> str:
    """The device of ``pytest --device`` (default cpu): engines, networks and runs of a device test go there."""
    name = request.config.getoption("--device")
    if name == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("--device cuda: CUDA is not available on this machine")
        # the tests compare the device's results with the CPU's or with each other at float32 tolerances, which
        # TensorFloat-32 matrix products and convolutions (cuDNN's default) would not meet
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return name


@pytest.fixture(scope="session")
def host():
    """``host(x)``: ``x`` (tensors, or dicts, tuples and lists of them) on the CPU, to compare with CPU results."""
    from mazearena.agents.batches import to_cpu

    return to_cpu


@pytest.fixture
def crash_at(monkeypatch):
    """``crash_at(Trainer, n)``: the trainer class's ``n``-th ``iteration`` call raises ``KeyboardInterrupt`` (a kill
    after the checkpoints of the earlier ones); ``crash_at.undo()`` puts the real method back."""
    real = {}

    def crash(trainer, n: int) -> None:
        real[trainer] = trainer.iteration
        calls = []

        def crashing(self):
            calls.append(1)
            if len(calls) >= n:
                raise KeyboardInterrupt
            return real[trainer](self)

        monkeypatch.setattr(trainer, "iteration", crashing)

    crash.undo = lambda: [monkeypatch.setattr(t, "iteration", method) for t, method in real.items()]
    return crash


@pytest.fixture(scope="session")
def tiny_maze_run(tmp_path_factory):
    """A run folder of a PPO CNN trained for 256 steps on 7x7 mazes (checkpoints, config, report): for the tools that
    open runs (watch, eval, export), not for what it learned."""
    from mazearena.training import EnvConfig, TrainConfig, train

    cfg = TrainConfig(runs_dir=tmp_path_factory.mktemp("runs"), name="r", env=EnvConfig(size=7), progress=False)
    cfg.total_timesteps, cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 256, 8, 16, 2
    cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = 0, 0, 8, "disabled"
    return train(cfg)
