# One way to set up, test, run and measure gestured. See README.md.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config/gestured.toml
SOURCE ?=
STATE_DIR ?= state
DATA ?= ../shared/data
TASK_FILE ?= $(VENV)/hand_landmarker.task

.PHONY: install system-deps test lint run bench models clean

install: $(VENV)/.installed $(TASK_FILE)

system-deps:
	./deploy/install-system-deps.sh

$(VENV)/.installed: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[train,systemd,dev]'
	touch $@

# The Tasks backend's model, built from the models inside the mediapipe wheel.
$(TASK_FILE): $(VENV)/.installed
	$(PY) -m gestured landmarks build-task $@

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff format --check daemon tests bench
	$(VENV)/bin/ruff check daemon tests bench

run: install
	$(PY) -m gestured run --config $(CONFIG) --state-dir $(STATE_DIR) \
		--models-dir $(CURDIR)/models \
		$(if $(SOURCE),--source $(SOURCE))

bench: install
	$(PY) bench/run_all.py --data $(DATA) --out BENCHMARKS.md

# Rebuilds models/static_single from the raw recordings (needs the train extra).
models: install
	$(PY) -m gestured.training.build --data-root $(DATA) --out models

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
