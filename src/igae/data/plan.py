"""Which scenes a configuration renders: scene ids, their split, source asset, views and seed.

Used by the workflow (to expand the ``{scene}`` wildcard) and by tests; the renderer itself only sees one
scene's explicit arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from igae.config.tree import ScenesConfig, SceneSetConfig
from igae.data.meshes import discover_assets
from igae.data.official import SCENES_FOLDER, official_scene_ids
from igae.errors import AssetError

SPLITS = ("igae_train", "eval")
PROCEDURAL_ASSET_DIR = Path("results/assets/procedural")


@dataclass(frozen=True)
class SceneSpec:
    """One scene to render."""

    scene_id: str
    split: str  # "igae_train" (IG-AE training) or "eval" (held-out, latent-NeRF evaluation)
    dataset: str  # "procedural", or the asset's top-level sub-folder (category) inside its asset folder
    asset: Path
    views: int
    seed: int
    up_axis: str
    imported: bool = False  # an official IG-AE data scene (``asset`` is its folder), imported, not rendered


def scene_seed(seed: int, split: str, index: int) -> int:
    """A 31-bit seed for scene ``index`` of ``split``, independent across splits and indices."""
    return int(np.random.SeedSequence([seed, SPLITS.index(split), index]).generate_state(1)[0] >> 1)


def _asset_scenes(split: str, block: SceneSetConfig, seed: int) -> list[SceneSpec]:
    folder = Path(block.asset_dir)
    assets = list(discover_assets(folder).items())
    count = block.count
    if count is not None:
        if count > len(assets):
            raise AssetError(f"scenes.{split}.count is {count} but '{folder}' holds only {len(assets)} assets")
        assets = assets[:count]
    specs = []
    for index, (scene_id, path) in enumerate(assets):
        relative = path.relative_to(folder)
        dataset = relative.parts[0] if len(relative.parts) > 1 else folder.name
        specs.append(
            SceneSpec(scene_id, split, dataset, path, block.views, scene_seed(seed, split, index), block.up_axis)
        )
    return specs


def _official_scenes(split: str, block: SceneSetConfig) -> list[SceneSpec]:
    folder = Path(block.asset_dir)
    scenes = official_scene_ids(folder)
    count = block.count
    if count is not None:
        if count > len(scenes):
            raise AssetError(f"scenes.{split}.count is {count} but '{folder}' lists only {len(scenes)} scenes")
        scenes = scenes[:count]
    return [
        SceneSpec(scene_id, split, category, folder / SCENES_FOLDER / scene_id, 0, 0, "y", imported=True)
        for scene_id, category in scenes
    ]


def plan_scenes(scenes: ScenesConfig, seed: int) -> list[SceneSpec]:
    """Every scene of ``scenes`` (``seed``: the configuration's); raises :class:`AssetError` if a scene id is in
    both splits."""
    specs: list[SceneSpec] = []
    for split in SPLITS:
        block = getattr(scenes, split)
        if block.source == "assets":
            specs += _asset_scenes(split, block, seed)
        elif block.source == "official":
            specs += _official_scenes(split, block)
        else:
            short = "train" if split == "igae_train" else "eval"
            for index in range(block.count):  # type: ignore[arg-type]  # the schema requires a count here
                scene_id = f"proc-{short}-{index:03d}"
                asset = PROCEDURAL_ASSET_DIR / f"{scene_id}.glb"
                specs.append(
                    SceneSpec(
                        scene_id,
                        split,
                        "procedural",
                        asset,
                        block.views,
                        scene_seed(seed, split, index),
                        "z",
                    )
                )
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.scene_id in seen:
            raise AssetError(
                f"scene '{spec.scene_id}' is in both '{seen[spec.scene_id]}' and '{spec.split}': evaluation scenes "
                "must be held out from IG-AE training (use separate asset folders)"
            )
        seen[spec.scene_id] = spec.split
    return specs
