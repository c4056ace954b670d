# make demo : set up .venv and run the demo on built-in data
# make test : set up .venv and run the test suite
# make bench: set up .venv-bench (bench/requirements.txt) and run bench/run.py (it runs bench/contention.py too)
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

# benchmarks run in their own venv: tensorflow and sequitur never enter the development .venv
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml constraints.txt bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BENCH_VENV)/bin/python -m pip install -q -c constraints.txt -e .
	$(BENCH_VENV)/bin/python -m pip install -q -r bench/requirements.txt
	touch $@

# make bench: speed against a hand-written PyTorch loop, Keras 3 and sequitur, then bench/contention.py
# (several fits at once); one table with every ratio (BENCH_ARGS=--quick; --contention none skips it).
# Threads as a user gets them: lstmae's thread policy, PyTorch's defaults, no OMP_WAIT_POLICY.
bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/run.py $(BENCH_ARGS)

demo: venv
	$(VENV)/bin/lstmae demo --output demo-output

clean:
	rm -rf $(VENV) $(BENCH_VENV) demo-output build *.egg-info src/*.egg-info
