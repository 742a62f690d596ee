"""A linear reference codec at an autoencoder's compression: PCA of f x f patches, k coefficients each.

The question a reviewer asks of any small autoencoder is whether it beats the simplest codec of the same rate. A
KL autoencoder with downsampling f and k latent channels keeps k numbers per f x f x 3 patch; so does projecting
each patch on its first k principal components (fitted on the autoencoder's own training images, exactly, by an
eigendecomposition of the patch covariance). The pipeline evaluates this codec beside the standard autoencoder on
the same held-out sets, with the same metrics, so the autoencoder table shows where the learned codec stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def image_patches(images: torch.Tensor, patch: int) -> torch.Tensor:
    """uint8 or float images [N, 3, H, W] -> float patches [N, H/p, W/p, 3 p p] in [0, 1] (uint8 is scaled)."""
    count, channels, height, width = images.shape
    if height % patch or width % patch:
        raise ValueError(f"images are {height}x{width}: not a multiple of the {patch}x{patch} patches")
    pixels = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    blocks = pixels.reshape(count, channels, height // patch, patch, width // patch, patch)
    return blocks.permute(0, 2, 4, 1, 3, 5).reshape(count, height // patch, width // patch, channels * patch * patch)


def patch_images(patches: torch.Tensor, patch: int) -> torch.Tensor:
    """The inverse of :func:`image_patches`: [N, h, w, 3 p p] -> images [N, 3, h p, w p]."""
    count, rows, columns, size = patches.shape
    channels = size // (patch * patch)
    blocks = patches.reshape(count, rows, columns, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return blocks.reshape(count, channels, rows * patch, columns * patch)


@dataclass(frozen=True)
class PatchPCACodec:
    """Each ``patch`` x ``patch`` RGB patch coded by its first ``components`` principal components."""

    patch: int
    mean: torch.Tensor  # [3 p p], the mean patch of the training images
    basis: torch.Tensor  # [3 p p, components], orthonormal, by decreasing explained variance

    @property
    def components(self) -> int:
        return int(self.basis.shape[1])

    @classmethod
    def fit(cls, images: torch.Tensor, patch: int, components: int, batch_size: int = 256) -> PatchPCACodec:
        """Fit on uint8 ``images`` [N, 3, H, W] (float64 sums over every patch, so the result is exact)."""
        size = images.shape[1] * patch * patch
        if not 0 < components <= size:
            raise ValueError(f"{components} components for {patch}x{patch} RGB patches: expected 1 to {size}")
        total = torch.zeros(size, dtype=torch.float64)
        products = torch.zeros(size, size, dtype=torch.float64)
        count = 0
        for start in range(0, len(images), batch_size):
            rows = image_patches(images[start : start + batch_size], patch).reshape(-1, size).double()
            total += rows.sum(0)
            products += rows.T @ rows
            count += len(rows)
        mean = total / count
        covariance = products / count - torch.outer(mean, mean)
        _, vectors = torch.linalg.eigh(covariance)  # ascending eigenvalues
        basis = vectors[:, -components:].flip(1)
        # Eigenvectors are defined up to sign: fix it (largest entry positive) so a refit gives the same codes.
        basis = basis * torch.sign(basis.gather(0, basis.abs().argmax(0, keepdim=True)))
        return cls(patch=patch, mean=mean.float(), basis=basis.float())

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images [N, 3, H, W] -> codes [N, components, H/p, W/p]."""
        codes = (image_patches(images, self.patch) - self.mean) @ self.basis
        return codes.permute(0, 3, 1, 2)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [N, components, h, w] -> images [N, 3, h p, w p] in [0, 1] (clamped)."""
        patches = codes.permute(0, 2, 3, 1) @ self.basis.T + self.mean
        return patch_images(patches, self.patch).clamp(0.0, 1.0)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images [N, 3, H, W] -> their reconstructions [N, 3, H, W] in [0, 1]."""
        return self.decode(self.encode(images))

    def describe(self) -> str:
        return f"PCA of {self.patch}x{self.patch} patches, {self.components} coefficients"
