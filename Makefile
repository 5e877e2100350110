# Quick start: `make demo` runs the main job on the demo data, `make test` runs every test.
# Both create .venv and install the project when it is missing or pyproject.toml changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv bench

venv: $(STAMP)

# Debian packages the project needs: pango and fonts for the PDF letters (WeasyPrint), chromium
# for the dashboard browser tests.
DEB_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core chromium

$(STAMP): pyproject.toml
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	-git rev-parse --git-dir >/dev/null 2>&1 && $(BIN)/nbstripout --install
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/workbench demo

test: $(STAMP)
	$(BIN)/python -m pytest --nbval -q

lint: $(STAMP)
	$(BIN)/ruff check workbench tests benchmarks

# The benchmark (not part of `make test`): `make bench SCALE=0.1 ARGS="--repeat 3"`.
# Figures go to reports/bench/; see README, "Benchmarks".
SCALE ?= 1.0
ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --scale $(SCALE) $(ARGS)
