# Two commands a newcomer runs: `make demo` and `make test`.
# Both build .venv once (torch pinned to the local CPU wheel by constraints.txt);
# later runs reuse it unless pyproject.toml or constraints.txt changed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	# torch first, from the local CPU wheel, so nothing pulls a CUDA build
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev,ray]'
	# the sagemaker extra, pinned at the end of constraints.txt; --no-deps because
	# sagemaker-core declares rich<15, protobuf<7, importlib-metadata<7 (see there)
	$(PIP) install -q --no-deps -c constraints.txt \
		$$(sed -n '/^# --- sagemaker extra/,$$p' constraints.txt | grep -v '^#')
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/strata demo

# The suite: static checks first (seconds), then pytest (its summary counts the tests).
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/preprocess.py
	$(BIN)/python bench/embed.py

clean:
	rm -rf $(VENV) .strata build dist *.egg-info
