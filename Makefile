# make demo : set up .venv and run the demo on built-in data
# make test : set up .venv and run the test suite
# make bench: set up .venv and run the benchmarks
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv test demo bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned through the constraints file: a plain `torch` would pull a CUDA build
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q -p no:cacheprovider

demo: venv
	$(VENV)/bin/lstmae demo --output demo-output

clean:
	rm -rf $(VENV) demo-output build *.egg-info src/*.egg-info
