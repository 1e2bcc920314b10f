# Deskmate developer commands. Every target sets up .venv/ first (scripts/setup.sh); when
# nothing changed since the last set-up, that takes well under a second. See DEVELOPERS.md.
#
#   make run                      set up, then open the window
#   make test                     set up, then run the tests
#   make test PYTEST_ARGS='-k settings -x'    pass options to pytest
#   make lint                     ruff check, ruff format --check, mypy
#   make setup                    set up the full developer venv (app + test tools) only
#   make model-qwen0.5b           fetch Qwen2.5-Coder-0.5B (491 MB) for model.path; see scripts/get-model.py
#   make model-qwen1.5b           fetch Qwen2.5-Coder-1.5B (1.1 GB)
#   make bundle                   freeze the app into dist/deskmate/ (PyInstaller; see installer/README.md)
#   make deb                      dist/deskmate_<version>_amd64.deb from the bundle (DEB_BUILD=N: a newer build)
#   make msi                      dist/msi/deskmate-<version>-x64[-standin].msi with wixl (MSI_PAYLOAD=dir: a Windows build)
#   make clean                    remove .venv and tool caches (keeps the llama.cpp wheel cache)

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SETUP := bash scripts/setup.sh
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint setup setup-app setup-test clean model-qwen0.5b model-qwen1.5b bundle deb msi

help:
	@sed -n 's/^#   make/  make/p' $(firstword $(MAKEFILE_LIST))

setup-app:
	@$(SETUP) app

setup-test:
	@$(SETUP) test

setup: setup-test

run: setup-app
	@if [[ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}$${QT_QPA_PLATFORM:-}" ]]; then \
		echo "make run: no display found (DISPLAY/WAYLAND_DISPLAY unset); the window may not open." >&2; \
	fi
	$(VENV)/bin/deskmate

# Tests run offscreen unless QT_QPA_PLATFORM says otherwise (e.g. QT_QPA_PLATFORM=xcb to watch).
test: setup-test
	QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(PY) -m pytest $(PYTEST_ARGS)

lint: setup-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

model-qwen0.5b model-qwen1.5b: setup-app
	$(PY) scripts/get-model.py $(subst model-qwen,qwen2.5-,$@)

# The frozen application (PyInstaller onedir) from the app venv; PyInstaller comes from
# requirements/bundle.txt. `make deb` packages dist/deskmate/ as it is (building it if absent).
bundle: setup-app
	nice -n 10 env PY=$(PY) bash installer/pyinstaller/build.sh

DEB_BUILD ?= 0
deb:
	@if [[ ! -x dist/deskmate/deskmate ]]; then $(MAKE) bundle; fi
	bash installer/deb/build-deb.sh --build $(DEB_BUILD)

# The Windows Installer package, built with wixl (apt-get install wixl msitools) around a payload:
# a Windows build of the app (installer/windows/build.ps1), or a small stand-in when none is given.
MSI_PAYLOAD ?=
msi:
	bash installer/msi/build-msi.sh $(if $(MSI_PAYLOAD),--payload $(MSI_PAYLOAD))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
