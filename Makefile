# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The main job: a short tuning run on a built-in task with the default agent (learned); prints the
# best kernel, logs to runs/.
demo: install
	$(VENV)/bin/msgym tune --task gmm-512 --trials 16 --logdir runs

# Lint and format check, then every test (the hardware ones build and time real kernels).
test: install lint
	$(PY) -m pytest -q tests

# The tests that build and time nothing (fake runner): under 2 minutes.
test-fast: install
	$(PY) -m pytest -q tests -m "not hardware"

lint: install
	$(VENV)/bin/ruff check msgym agents experiments tests
	$(VENV)/bin/ruff format --check msgym agents experiments tests

bench: install
	$(PY) experiments/bench_step.py --episodes 100 --json experiments/results/step_speed.json
	$(PY) experiments/bench_measure.py --json experiments/results/measure.json

clean:
	rm -rf $(VENV) runs .pytest_cache
