"""Latent NeRFs: a nerfstudio 1.1.5 plugin training NeRFs in an autoencoder's latent space (or in RGB).

Modules: ``latent_space`` (encode, decode, background), ``datamanager`` (cached latent views), ``models`` /
``kplanes`` / ``splatfacto`` (C-channel nerfstudio models), ``pipeline`` (the two stages and the shared
evaluation), ``methods`` (the method table and the entry points ``latent-*``), ``run`` (one run end to end, as
the workflow calls it), ``bench`` (latent vs RGB speed), ``catalog`` (method names, importable without torch:
this package's ``__init__`` imports nothing).
"""
