# mmdynact: `make env` sets up .venv, `make test` runs the tests, `make demo`
# runs the main job, `make lint` checks the code style (setup.cfg) and
# `make format` applies isort's and yapf's changes. PIP_ARGS go to every pip
# call, e.g.
#   make test PIP_ARGS="--find-links ../shared/wheels"
PIP_ARGS ?=
PY := .venv/bin/python
# what flake8, isort and yapf check (tests/test_code_style.py checks the same)
STYLE_PATHS := mmdynact tools tests configs setup.py

.PHONY: env test demo lint format
env:
	bash tools/setup_env.sh $(PIP_ARGS)

test: env
	$(PY) -m pytest tests

# Train RetinaNet with DY-ReLU-B on the tiny COCO data on CPU, evaluate it
# with the COCO metric, print where the checkpoint, logs and results are.
demo: env
	$(PY) tools/demo.py

# The checks of tests/test_code_style.py, with the tools' full reports.
lint:
	$(PY) -m flake8 $(STYLE_PATHS)
	$(PY) -m isort --check-only --diff $(STYLE_PATHS)
	$(PY) -m yapf --diff --recursive --parallel $(STYLE_PATHS)

format:
	$(PY) -m isort $(STYLE_PATHS)
	$(PY) -m yapf --in-place --recursive --parallel $(STYLE_PATHS)
