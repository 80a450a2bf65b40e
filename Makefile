# The two set-up commands of the README. Each creates .venv if it is missing.
#   make demo   the toy study's short version: real verl GRPO + SIRI on CPU, a 1M model warm-started offline, MLflow in ./mlflow.db
#   make test   the test suite (what .ci/run calls)
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.siri-verl-installed

.PHONY: demo test install clean

install: $(STAMP)

# On a machine without an NVIDIA GPU, torch 2.13.0's CPU wheel goes in first, so that verl's
# and transformers' torch requirement is already met and pip never fetches a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# A stale siri_verl.egg-info in the checkout would shadow the install's entry points for
	# commands run from here (its catalogues, then every asset, unknown).
	rm -rf siri_verl.egg-info
	$(PY) -m pip install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(PY) -m pip install -q -e ".[gpu,test]"; \
	else \
		$(PY) -m pip install -q torch==2.13.0 && $(PY) -m pip install -q -e ".[test]"; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m siri_verl recipe=toy_demo

# The MLflow UI browser check needs Debian's chromium; as root with apt it is installed here,
# otherwise that one test skips and says why. Two pytest-xdist workers, dealt whole test files
# (--dist loadfile): an e2e module's tests share one module-scoped verl job, which runs once only
# if they all run on one worker, one after another. Two files' jobs may run at once: a job's
# start-up keeps one core of two busy (results/overhead.md). (--dist loadgroup with xdist_group
# markers did not group anything: xdist 3.8 renames a test's _nodeid, which pytest 9 no longer
# reads, so each module's job ran twice.) The 15 slowest tests are listed at the end, so that a
# suite that grows says where.
test: $(STAMP)
	if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser check will skip"; \
	fi
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15

clean:
	rm -rf $(VENV) outputs multirun mlflow.db .cache
