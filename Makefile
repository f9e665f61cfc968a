# roboz-collection: the two commands of the README are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
EXAMPLE := examples/rusty-roboz/manifest.yaml
DEMO_BUILD := examples/rusty-roboz/build

.PHONY: setup python node browser demo test test-fast bench screenshots review-screenshot demo-picture clean-demo constraints wheel docker-check

setup: python node browser

# pyproject.toml declares the ranges the code supports; this project's own venv (and so CI)
# installs the exact set measured together, pinned in constraints.txt. pip takes torch 2.14.1
# from local disk where it lies there; the `ray` extra is installed because the Ray executor's
# tests run in the suite.
python: $(VENV)/.installed
$(VENV)/.installed: $(VENV)/.installed-core
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,ray]"
	@touch $@
# What the tool itself runs on (the demo): the package and its dependencies, no test tools and no Ray.
$(VENV)/.installed-core: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e .
	@touch $@

# After changing pyproject.toml's dependencies: re-pin what the venv now holds.
constraints: python
	{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --all --exclude-editable | grep -v '^pip==' | grep -v '^# Editable' | LC_ALL=C sort -f; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

node: contracts/node_modules/.installed tests/js/node_modules/.installed preview/mint_page/js/node_modules/.installed
contracts/node_modules/.installed: contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
tests/js/node_modules/.installed: tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
# viem and esbuild for the mint page's bundle (preview/mint_page/js/build.mjs; a test rebuilds and compares)
preview/mint_page/js/node_modules/.installed: preview/mint_page/js/package-lock.json
	cd preview/mint_page/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The gallery is tested in Debian's chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# Command 1: the whole pipeline on the bundled example, offline. It needs only the package and anvil
# (contracts/node_modules), not the test set-up: `make test` adds the rest later.
demo: $(VENV)/.installed-core contracts/node_modules/.installed
	$(BIN)/roboz-collection demo $(EXAMPLE)

# Command 2: the whole test suite, then the 15 slowest tests.
test: setup
	$(BIN)/pytest -q -p no:cacheprovider --durations=15

# The fast lane: everything that starts no chain, browser, Ray, CLI subprocess or long render
# (markers in tests/fixtures_lanes.py); under 90 s on a 2-core machine.
test-fast: python
	$(BIN)/pytest -q -p no:cacheprovider -m "not slow" --durations=10

bench: setup
	for b in plan render cid gas preview ray_executor; do $(BIN)/python benchmarks/$$b.py || exit 1; done

# docs/gallery-*.png: the gallery at 1440 px and 390 px, from the demo run on the example in a
# temporary folder (build, preview, publish --to car, mint on anvil). BUILD=DIR shoots an existing build.
screenshots: setup
	$(BIN)/python scripts/gallery_screenshots.py --out docs $(if $(BUILD),--build $(BUILD))

# docs/review.png: the review page on an 8-token best-of-2 demo draft, decisions made, not applied.
review-screenshot: setup
	$(BIN)/python scripts/review_screenshot.py --out docs/review.png

# The README's demo picture: the contact sheet of `make demo` without the real weights, that is
# painted by the demo models (generator/demo), regenerated from a fresh draft build.
demo-picture: setup
	rm -rf $(DEMO_BUILD)-draft
	$(BIN)/roboz-collection demo $(EXAMPLE) --models demo --no-progress
	cp $(DEMO_BUILD)-draft/contact-sheets/sheet-001.png docs/demo-contact-sheet.png

# dist/roboz_collection-*.whl: the package with everything it reads at run time (demo weights, Jax,
# contract artifacts, page templates and scripts); `pip install` it on Colab or a server.
# Built from a clean copy of the sources (setuptools' build/lib would keep modules that moved) with
# the venv's pinned setuptools, offline. tests/test_wheel_install.py installs it outside the repository.
wheel: python
	rm -rf dist && $(BIN)/python scripts/build_wheel.py dist

# The Dockerfile without Docker: hadolint, then its COPY and RUN steps in a fresh venv the way the
# image runs them (tests/test_docker.py; the pip install takes minutes and several GB).
docker-check: python
	ROBOZ_DOCKER_STEPS=1 $(BIN)/pytest -q -p no:cacheprovider tests/test_docker.py

clean-demo:
	rm -rf $(DEMO_BUILD) $(DEMO_BUILD)-draft
