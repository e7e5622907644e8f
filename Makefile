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

demo: $(STAMP)
	$(BIN)/python -m demo

# Everything: unit, integration, subprocess, crash, load, fuzzing, the terminal app and the browser.
test: $(STAMP)
	bash tests/install_chromium.sh
	$(BIN)/python -m pytest -q

# The inner loop: everything but the tests marked `slow` (see pyproject.toml), and it says so.
test-rapido: $(STAMP)
	@echo "make test-rapido: sem os testes marcados slow (subprocessos, carga, schemathesis, app e navegador); 'make test' roda todos"
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
