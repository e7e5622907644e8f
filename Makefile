# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-rapido bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[servidor,medidor,usuario,test]'
	touch $(STAMP)

# `make demo MQTT=mqtt://127.0.0.1:1883` adds a Tasmota plug over MQTT and Home Assistant discovery.
demo: $(STAMP)
	$(BIN)/python -m demo $(if $(MQTT),--mqtt $(MQTT))

# Parallel test processes (pytest-xdist): many tests wait on sockets, subprocesses and fsync, so
# two workers finish in about 60 % of the time on a 2-core machine. `make test TESTES_PARALELOS=0`
# runs them in one process.
TESTES_PARALELOS ?= 2

# Everything: unit, integration, subprocess, crash, load, fuzzing, the terminal app and the browser.
test: $(STAMP)
	bash tests/install_chromium.sh
	$(BIN)/python -m pytest -q -n $(TESTES_PARALELOS)

# The inner loop: everything but the tests marked `slow` (see pyproject.toml), and it says so.
test-rapido: $(STAMP)
	@echo "make test-rapido: sem os testes marcados slow (subprocessos, carga, schemathesis, app e navegador); 'make test' roda todos"
	$(BIN)/python -m pytest -q -n $(TESTES_PARALELOS) -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
