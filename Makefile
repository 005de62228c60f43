# handgrad — two commands do everything on a fresh machine:
#   make lab    set up if needed, open JupyterLab on the course
#   make test   set up if needed, run every check (what CI runs)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# JupyterLab refuses to start as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=

.PHONY: lab test test-browser notebooks data setup clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The Lab serves the whole course: the file browser opens on notebooks/ (the
# lessons to do) and solutions/ is one folder up. tests/test_browser.py starts
# the server with this same target, adding its port and token in LAB_ARGS.
lab: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir=. \
		--FileContentsManager.preferred_dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

# pytest: the package, the generator, cmp's diagnoses, the sync check, every
# student notebook run to the end (papermill); nbval: every solved notebook,
# with cmp strict, so a wrong solution fails. Two workers (pytest-xdist) keep both
# cores busy; nbval runs apart, with --dist loadfile, because the cells of one
# notebook share a kernel and must stay on one worker. -rs prints why a test was skipped.
test: $(STAMP)
	HANDGRAD_STRICT=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -p no:cacheprovider \
		-n 2 -rs tests --durations=8
	HANDGRAD_STRICT=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -p no:cacheprovider \
		-n 2 --dist loadfile solutions --nbval-lax
	$(MAKE) test-browser

# The course in JupyterLab, in headless Chromium (Playwright): one lesson per
# language, run as a learner runs it, and its solution. Skipped, with the
# reason, where Chromium is missing, except in CI (CI=true), where it fails.
# Screenshots: build/browser/.
test-browser: $(STAMP)
	HANDGRAD_BROWSER_TEST=1 $(BIN)/python -m pytest -p no:cacheprovider -rs tests/test_browser.py

notebooks: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m handgrad.generate

data: $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-data.txt -c constraints.txt
	$(BIN)/python data/build_names.py

# Grade a class: SUBMISSIONS=dir holds dir/<student>/<lesson>.ipynb; writes GRADEBOOK and
# feedback/ beside it (see README, "For teachers"). Run it again to grade only what changed.
.PHONY: grade test-nbgrader
GRADEBOOK ?= gradebook.csv
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=dir [GRADEBOOK=gradebook.csv]"; exit 2; }
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m handgrad.grade "$(SUBMISSIONS)" --out "$(GRADEBOOK)"

# nbgrader accepts solutions/ and agrees with `make grade` (tests/test_grade_nbgrader.py): nbgrader lives
# in build/nbgrader-venv, made on first use from PyPI (~20 s); the test takes 1.5-3 min, so not in `make test`.
test-nbgrader: $(STAMP)
	HANDGRAD_NBGRADER_TEST=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -p no:cacheprovider \
		-rs tests/test_grade_nbgrader.py

# Lesson 10's stopwatch: one training step four ways (autograd, fused, optimised, compiled), interleaved,
# on 1 thread then torch's default; prints the table, writes build/bench.json, fails if a manual step is
# slower than autograd. Timing is noisy, so it is not part of `make test`. BENCH_ARGS=--no-compile skips
# torch.compile (tens of seconds); `.venv/bin/python -m handgrad.bench -h` lists the options.
.PHONY: bench
BENCH_ARGS ?=
bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m handgrad.bench --json build/bench.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info
