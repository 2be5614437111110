# mmdynact: `make env` sets up .venv, `make test` runs the tests, `make demo`
# runs the main job. PIP_ARGS go to every pip call, e.g.
#   make test PIP_ARGS="--find-links ../shared/wheels"
PIP_ARGS ?=
PY := .venv/bin/python

.PHONY: env test
env:
	bash tools/setup_env.sh $(PIP_ARGS)

test: env
	$(PY) -m pytest tests
