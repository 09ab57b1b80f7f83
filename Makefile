# Two commands do all the set-up on a fresh machine with Python 3.10+:
#   make train  create .venv, install mazearena[train], train PPO on 9x9 mazes (CPU, W&B offline) until held-out
#               success reaches 95% (ppo_maze9_fast), write runs/ppo-maze9-<time>/ (report.md, curve.png,
#               episodes.gif, checkpoints), then run the evaluation suites and perturbations on it (.../eval/)
#   make test   create .venv, install mazearena[dev], run ruff and the test suite
# make demo plays mazes with the built-in solver; make bench measures speed next to the peers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first so that a CPU build already on pip's path is taken when there is one;
# TORCH_SPEC=torch takes the newest release instead.
TORCH_SPEC ?= torch>=2.2,<2.14

.PHONY: setup train demo test bench lint docs browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Each target installs what it uses: training and evaluation need the 'train' extra, the tests everything.
$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[$*]"
	touch $@

setup: $(VENV)/.installed-dev

RUN := ppo-maze9-$(shell date +%Y%m%d-%H%M%S)
train: $(VENV)/.installed-train
	$(BIN)/mazearena train --config ppo_maze9_fast --name $(RUN)
	$(BIN)/mazearena eval runs/$(RUN)

demo: $(VENV)/.installed-train
	$(BIN)/mazearena demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check mazearena tests scripts examples
	$(BIN)/ruff format --check mazearena tests scripts examples

# The documentation site (mkdocs serve to browse it); a broken page or reference fails the build.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d site

test: $(VENV)/.installed-dev lint docs browser
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/pytest -q

# tests/test_docs_site.py opens every page of the site in a headless Chromium: Debian's chromium and chromium-driver,
# installed here where apt can (as root, or with sudo); elsewhere that test is skipped (in CI it fails).
browser:
	@command -v chromedriver >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && SUDO= || SUDO="sudo -n"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	      --no-install-recommends chromium chromium-driver >/dev/null; } || \
	  echo "chromium could not be installed: the docs site test will be skipped"

# Peers live in their own environment: MiniGrid depends on pygame-ce, which replaces pygame's module.
.venv-bench/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet "$(TORCH_SPEC)"
	.venv-bench/bin/pip install --quiet -e ".[bench]" minigrid magent2 mpe2
	touch $@

bench: .venv-bench/.installed
	.venv-bench/bin/mazearena bench

clean:
	rm -rf $(VENV) .venv-bench runs site
