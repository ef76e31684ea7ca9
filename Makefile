PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[train,dev]'
	touch $@

test: install
	$(PY) -m pytest

# Rebuilds models/static_single from the raw recordings (needs the train extra).
DATA ?= ../shared/data

.PHONY: models
models: install
	$(PY) -m gestured.training.build --data-root $(DATA) --out models
