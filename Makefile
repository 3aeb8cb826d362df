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

.PHONY: install chromium demo test lint typecheck bench clean

install: $(STAMP) chromium

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

# The studio's browser tests drive Debian's Chromium (Playwright downloads no browser):
# installed with apt where it is missing and apt-get can run as root; otherwise they skip.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "no /usr/bin/chromium and no apt-get as root: the studio's browser tests will skip"; fi

demo: $(STAMP)
	$(BIN)/strata demo

# The suite: static checks first (seconds), then pytest (its summary counts the tests).
test: $(STAMP) chromium lint typecheck
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
