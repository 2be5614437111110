# mmdynact: `make env` sets up .venv, `make test` runs the tests, `make demo`
# runs the main job. PIP_ARGS go to every pip call, e.g.
#   make test PIP_ARGS="--find-links ../shared/wheels"
PIP_ARGS ?=
PY := .venv/bin/python

.PHONY: env test demo
env:
	bash tools/setup_env.sh $(PIP_ARGS)

test: env
	$(PY) -m pytest tests

# Train RetinaNet with DY-ReLU-B on the tiny COCO data on CPU, evaluate it
# with the COCO metric, print where the checkpoint, logs and results are.
demo: env
	$(PY) tools/demo.py
