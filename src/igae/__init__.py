"""IG-AE: Inverse Graphics Autoencoder, as a reproducible Snakemake + DVC research pipeline.

Sub-packages follow the pipeline's phases, each importing only the core and the phases before it (import-linter
checks it): :mod:`igae.data` renders multi-view datasets and prepares the real-image set; :mod:`igae.evaluation`,
:mod:`igae.autoencoders`, :mod:`igae.triplanes`, :mod:`igae.training` (IG-AE), :mod:`igae.nerf` (the nerfstudio
plugin) and :mod:`igae.reporting` build on it. :mod:`igae.config` is the typed configuration, :mod:`igae.plan` the
run plan the workflow expands, :mod:`igae.commands` the ``igae`` command line (one module per phase).
"""

__version__ = "0.1.0"
