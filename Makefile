# Dure: `make up` installs and serves the demo factory; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: up install web test test-deps lint clean edge-venv

up: install web
	$(VENV)/bin/dure init
	$(VENV)/bin/dure up --host $(HOST) --port $(PORT)

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Debian: apt-get install python3 python3-venv)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); bash scripts/ensure-venv-module.sh && $(PYTHON) -m venv $(VENV); }
	$(PIP) install -q --upgrade pip

# torch first, pinned: a bare or ranged torch would pull a multi-GB CUDA build.
# Flower 1.41 pins old FastAPI/Ray: the federated agent gets its own environment.
install: $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .
	@test -x .venv-flower/bin/python || $(PYTHON) -m venv .venv-flower
	.venv-flower/bin/pip install -q flwr==1.41.0

# The dashboard, built from the npm registry into web/dist (served by `dure up` at /).
web:
	bash scripts/build-web.sh

test-deps: install web
	$(PIP) install -q -e '.[test,scale]'
	bash scripts/ensure-test-servers.sh

test: test-deps
	bash scripts/run-tests.sh

# The slim line-side install (no torch) in $(EDGE_VENV): its size, `pip check`, torch-free imports.
EDGE_VENV ?= .venv-edge
edge-venv:
	PYTHON=$(PYTHON) bash scripts/edge-venv.sh $(EDGE_VENV)

lint:
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) .venv-flower $(EDGE_VENV) var build *.egg-info web/node_modules web/dist
