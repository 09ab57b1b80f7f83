"""Importing one training helper loads what it needs, not the whole training stack."""

import subprocess
import sys


def loaded_by(statement: str) -> list[str]:
    code = f"import sys; {statement}; print('\\n'.join(m for m in sys.modules if m.startswith('mazearena')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.split()


def test_the_checkpoint_helper_loads_at_most_ten_mazearena_modules():
    modules = loaded_by("import mazearena.training.checkpoint")
    assert len(modules) <= 10, modules
    assert "mazearena.training.loop" not in modules


def test_the_package_still_hands_out_train_and_its_config():
    modules = loaded_by("from mazearena.training import TrainConfig, train; assert callable(train)")
    assert "mazearena.training.loop" in modules and "mazearena.training.config" in modules
