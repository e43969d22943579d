# One command to run, one to test. Both set up what they need first.
#   make run    demo data, private Redis, worker, HTTP API and the page on http://127.0.0.1:8501
#   make test   lint, then the whole test suite (starts and stops its own Redis and workers)
#   make test-stress   the suite three times in a row while two busy loops hold both cores

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ASSETS := static/vendor/.installed

.PHONY: run test test-stress bench lint assets venv clean constraints

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# pin what a fresh install resolves to today (after changing the dependencies in pyproject.toml)
constraints:
	rm -rf /tmp/isimip-mask-pin && $(PYTHON) -m venv /tmp/isimip-mask-pin
	/tmp/isimip-mask-pin/bin/pip install --quiet -e .[dev]
	{ echo "# exact versions of every package CI and \`make run\` install (pip freeze of a fresh \`make venv\`)"; \
	  /tmp/isimip-mask-pin/bin/pip freeze --exclude-editable; } > constraints.txt

# Leaflet and Leaflet.draw come from the npm registry and are served by Streamlit itself,
# so the map works without internet. They are never committed.
assets: $(ASSETS)

$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	rm -rf static/vendor
	mkdir -p static/vendor
	cp -r node_modules/leaflet/dist static/vendor/leaflet
	cp -r node_modules/leaflet-draw/dist static/vendor/leaflet-draw
	touch $@

run: $(STAMP) $(ASSETS)
	$(PY) -m isimip_mask.local

test: lint $(ASSETS)
	$(PY) -m pytest $(PYTEST_ARGS)

test-stress: $(STAMP) $(ASSETS)
	$(PY) tests/stress.py $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/bench_engine.py
	cd benchmarks && ../$(PY) bench_hires.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) node_modules static/vendor static/outlines-*.json var benchmarks/out
