"""IG-AE: Inverse Graphics Autoencoder, as a reproducible Snakemake + DVC research pipeline.

Sub-packages follow the pipeline's phases: :mod:`igae.data` renders multi-view datasets and prepares the
real-image set; later phases (autoencoders, latent scenes, IG-AE training, the nerfstudio plugin, evaluation,
reporting) build on it. Every phase is reachable from the ``igae`` command line (:mod:`igae.cli`).
"""

__version__ = "0.1.0"
