# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium
# TensorFlow's C++ start-up chatter (oneDNN, CUDA probes) hides the useful output.
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test chromium clean

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
	$(VENV)/bin/layerlens demo --models models --runs runs

test: $(VENV)/.installed-test chromium
	$(VENV)/bin/ruff check layerlens tests benchmarks examples
	$(PY) -m pytest

clean:
	rm -rf $(VENV) models runs output_site .pytest_cache
