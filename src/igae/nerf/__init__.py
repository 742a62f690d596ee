"""Latent NeRFs: a nerfstudio 1.1.5 plugin training NeRFs in an autoencoder's latent space (or in RGB).

Modules: ``latent_space`` (encode, decode, background), ``datamanager`` (cached latent views), ``models`` /
``kplanes`` / ``splatfacto`` (C-channel nerfstudio models), ``pipeline`` (the two stages and the shared
evaluation), ``methods`` (the method table and the entry points ``latent-*``), ``run`` (one run end to end, as
the workflow calls it), ``bench`` (latent vs RGB speed), ``catalog`` (method names, importable without torch).
"""

import numpy as np
import torch

# nerfstudio's learning-rate schedules return numpy floats, which end up in every checkpoint; torch >= 2.6 loads
# checkpoints with weights_only=True by default, so ns-eval / ns-viewer / --load-dir would refuse them. These are
# plain numeric types, safe to allow.
torch.serialization.add_safe_globals([np._core.multiarray.scalar, np.dtype, np.dtypes.Float64DType])
