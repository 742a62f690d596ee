"""The real-image set (the paper's ImageNet "injection" images) at the training resolution.

Two sources:

* ``package`` (tiny preset): colour and grey-scale photographs that ship inside the installed
  scikit-image and matplotlib wheels, cut into many square crops at several scales and resized. Whole
  photographs are held out, so held-out crops come from pictures the autoencoders never saw.
* ``folder`` (paper preset): a user folder of images (ImageNet, or the official ``imagenet/square128``),
  searched recursively; a seeded random subset of ``max_images`` is centre-cropped and resized (or, with
  ``preprocess: none``, required to be exactly the target size already), and a fraction is held out.

Output folder::

    train/<name>.png   heldout/<name>.png   index.json
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from igae.config.tree import RealImagesConfig
from igae.errors import ImageSetError
from igae.io_utils import atomic_directory, write_json_atomic

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _matplotlib(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(file_name) as handle:
            return np.asarray(Image.open(handle).convert("RGB"))

    return load


#: Real photographs shipped inside installed wheels (no download): name -> loader of an [H, W(, 3)] uint8 array.
PACKAGE_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "retina": _skimage("retina"),
    "motorcycle": lambda: _skimage("stereo_motorcycle")()[0],
    "camera": _skimage("camera"),
    "brick": _skimage("brick"),
    "grass": _skimage("grass"),
    "gravel": _skimage("gravel"),
    "moon": _skimage("moon"),
    "coins": _skimage("coins"),
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
}


def _as_rgb(array: np.ndarray) -> np.ndarray:  # [H, W, 3] uint8
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return np.ascontiguousarray(array[..., :3]).astype(np.uint8)


def random_crops(photo: np.ndarray, count: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` square crops of ``photo`` [H, W, 3] with sides drawn between ``size`` and the short side,
    each resized to ``size`` x ``size`` (area filter): a multi-scale sample of the photograph."""
    height, width = photo.shape[:2]
    short = min(height, width)
    if short < size:
        raise ImageSetError(f"photo of {width}x{height} is smaller than the {size}x{size} crops")
    crops = []
    for _ in range(count):
        side = int(rng.integers(size, short + 1))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side])
        crops.append(np.asarray(crop.resize((size, size), Image.Resampling.BOX)))
    return crops


def center_crop_resize(image: Image.Image, size: int, source: Path) -> Image.Image:
    """The largest centred square of ``image`` resized to ``size``; an image smaller than ``size`` is an error."""
    width, height = image.size
    if min(width, height) < size:
        raise ImageSetError(f"image '{source}' is {width}x{height}: expected at least {size}x{size}")
    short = min(width, height)
    left, top = (width - short) // 2, (height - short) // 2
    return image.crop((left, top, left + short, top + short)).resize((size, size), Image.Resampling.BICUBIC)


def _package_images(settings: RealImagesConfig, image_size: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """Yield (subset, name, pixels) for the crops of the packaged photographs."""
    unknown = sorted(set(settings.heldout_photos) - set(PACKAGE_PHOTOS))
    if unknown:
        raise ImageSetError(
            f"real_images.heldout_photos names unknown photos {unknown}; available: {sorted(PACKAGE_PHOTOS)}"
        )
    rng = np.random.default_rng(settings.seed)
    for name, load in PACKAGE_PHOTOS.items():
        subset = "heldout" if name in settings.heldout_photos else "train"
        for i, crop in enumerate(random_crops(_as_rgb(load()), settings.crops_per_photo, image_size, rng)):
            yield subset, f"{name}_{i:03d}", crop


def list_folder_images(folder: Path) -> list[Path]:
    """Every .png/.jpg/.jpeg below ``folder``, sorted; errors for a missing or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageSetError(f"real-image folder '{folder}' does not exist (set real_images.folder in params.yaml)")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ImageSetError(f"real-image folder '{folder}' contains no {'/'.join(IMAGE_SUFFIXES)} image")
    return files


def _folder_images(settings: RealImagesConfig, image_size: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """Yield (subset, name, pixels) for a seeded subset of a user folder, streaming one image at a time."""
    folder = Path(settings.folder or "")
    files = list_folder_images(folder)
    rng = np.random.default_rng(settings.seed)
    chosen = [files[i] for i in sorted(rng.permutation(len(files))[: settings.max_images])]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]  # seeded order, as the paper's sampler
    n_heldout = int(round(len(chosen) * settings.heldout_fraction))
    if n_heldout == 0 or n_heldout == len(chosen):
        raise ImageSetError(
            f"'{folder}': {len(chosen)} images with real_images.heldout_fraction {settings.heldout_fraction} hold out "
            f"{n_heldout}: expected at least one held-out and one training image (add images or change the fraction)"
        )
    for rank, path in enumerate(chosen):
        try:
            image = Image.open(path).convert("RGB")
        except Exception as error:
            raise ImageSetError(f"image '{path}' could not be read: {error}") from error
        if settings.preprocess == "none":
            if image.size != (image_size, image_size):
                raise ImageSetError(
                    f"image '{path}' is {image.size[0]}x{image.size[1]}: expected "
                    f"{image_size}x{image_size} (or set real_images.preprocess: center_crop)"
                )
        else:
            image = center_crop_resize(image, image_size, path)
        name = "-".join(path.relative_to(folder).with_suffix("").parts)
        yield "heldout" if rank < n_heldout else "train", name, np.asarray(image)


def prepare_real_images(settings: RealImagesConfig, image_size: int, out_dir: Path) -> dict:
    """Write the train/held-out real-image set to ``out_dir`` atomically and return its index."""
    sources = {"package": _package_images, "folder": _folder_images}
    if settings.source not in sources:
        raise ImageSetError(f"real_images.source is '{settings.source}': expected one of {sorted(sources)}")
    with atomic_directory(Path(out_dir)) as tmp:
        index: dict = {"source": settings.source, "image_size": image_size, "train": [], "heldout": []}
        for subset in ("train", "heldout"):
            (tmp / subset).mkdir()
        for count, (subset, name, pixels) in enumerate(sources[settings.source](settings, image_size), start=1):
            Image.fromarray(pixels).save(tmp / subset / f"{name}.png")
            index[subset].append(f"{subset}/{name}.png")
            if count % 1000 == 0:
                log.info("real images: %d written", count)
        log.info("real images: %d train, %d held out", len(index["train"]), len(index["heldout"]))
        write_json_atomic(tmp / "index.json", index)
    return index
