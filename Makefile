# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium
# TensorFlow's C++ start-up chatter (oneDNN, CUDA probes) hides the useful output.
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test test-portable chromium clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed-demo: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --quiet -e ".[mnist]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --quiet -e ".[test]"
	touch $@

# The browser tests drive Debian's chromium through playwright (playwright's own browser download fails here).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium is missing: run 'sudo apt-get install chromium' (Debian) and retry." >&2; exit 1; \
		fi; \
	fi

demo: $(VENV)/.installed-demo
	$(VENV)/bin/layerlens demo --models models --runs runs --site output_site

test: $(VENV)/.installed-test chromium
	$(VENV)/bin/ruff check layerlens tests benchmarks examples
	$(PY) -m pytest

# The suite as weaker CPUs run it: float32 results then differ in their last bits between batch sizes
# and code paths, which the tests must tolerate. Three passes: oneDNN limited to AVX2 (no AVX-512),
# oneDNN switched off (Eigen kernels), and a single thread (another summation order).
test-portable: $(VENV)/.installed-test chromium
	ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m pytest -q
	TF_ENABLE_ONEDNN_OPTS=0 $(PY) -m pytest -q
	OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 $(PY) -m pytest -q

clean:
	rm -rf $(VENV) models runs output_site .pytest_cache
