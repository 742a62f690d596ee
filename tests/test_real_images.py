import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from igae.config import load_config
from igae.data.real_images import PACKAGE_PHOTOS, prepare_real_images
from igae.errors import ImageSetError

TINY = load_config(Path(__file__).parents[1] / "params.yaml", "tiny")


def settings(**changes):
    """The tiny preset's ``real_images`` with ``changes``."""
    return dataclasses.replace(TINY.real_images, **changes)


def test_packaged_photographs_load_offline():
    for name, load in PACKAGE_PHOTOS.items():
        assert min(np.asarray(load()).shape[:2]) >= 128, name


def test_package_source_splits_by_photograph(tmp_path):
    index = prepare_real_images(settings(crops_per_photo=2, heldout_photos=("coffee",)), 128, tmp_path / "real")
    assert index["heldout"] == ["heldout/coffee_000.png", "heldout/coffee_001.png"]
    assert len(index["train"]) == 2 * (len(PACKAGE_PHOTOS) - 1)
    assert not any("coffee" in name for name in index["train"])
    image = Image.open(tmp_path / "real" / index["train"][0])
    assert image.size == (128, 128) and image.mode == "RGB"
    assert json.loads((tmp_path / "real" / "index.json").read_text()) == index
    again = prepare_real_images(settings(crops_per_photo=2, heldout_photos=("coffee",)), 128, tmp_path / "again")
    first, second = (np.asarray(Image.open(d / index["train"][5])) for d in (tmp_path / "real", tmp_path / "again"))
    assert again == index and np.array_equal(first, second)


def _folder(tmp_path, sizes):
    folder = tmp_path / "imagenet" / "n01440764"
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes):
        Image.fromarray(np.full((size[1], size[0], 3), 25 * i, np.uint8)).save(folder / f"img_{i}.jpg")
    return tmp_path / "imagenet"


def test_folder_source_crops_and_holds_out(tmp_path):
    folder = _folder(tmp_path, [(200, 150)] * 9 + [(128, 128)])
    index = prepare_real_images(
        settings(source="folder", folder=str(folder), heldout_fraction=0.2), 128, tmp_path / "out"
    )
    assert len(index["heldout"]) == 2 and len(index["train"]) == 8
    assert Image.open(tmp_path / "out" / index["train"][0]).size == (128, 128)


def test_folder_errors_name_the_file_and_write_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ImageSetError, match="does not exist"):
        prepare_real_images(settings(source="folder", folder=str(tmp_path / "nope")), 128, out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageSetError, match="contains no"):
        prepare_real_images(settings(source="folder", folder=str(tmp_path / "empty")), 128, out)
    folder = _folder(tmp_path, [(200, 200), (100, 300)])
    with pytest.raises(ImageSetError, match=r"img_1\.jpg' is 100x300: expected at least 128x128"):
        prepare_real_images(settings(source="folder", folder=str(folder), heldout_fraction=0.5), 128, out)
    with pytest.raises(ImageSetError, match=r"img_0\.jpg' is 200x200: expected 128x128"):
        prepare_real_images(
            settings(source="folder", folder=str(folder), preprocess="none", heldout_fraction=0.5), 128, out
        )
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "imagenet"]
