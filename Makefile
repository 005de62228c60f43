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

.PHONY: lab test notebooks data setup clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

# pytest: the package, the generator, cmp's diagnoses, the sync check, every
# student notebook run to the end (papermill); nbval: every solved notebook,
# with cmp strict, so a wrong solution fails.
test: $(STAMP)
	HANDGRAD_STRICT=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -p no:cacheprovider \
		tests solutions --nbval-lax --durations=8

notebooks: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m handgrad.generate

data: $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-data.txt -c constraints.txt
	$(BIN)/python data/build_names.py

clean:
	rm -rf $(VENV) *.egg-info
