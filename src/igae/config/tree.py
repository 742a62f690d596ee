"""The resolved configuration as one typed tree of frozen dataclasses, mirroring ``params.yaml`` key for key.

Every mapping of ``params.yaml`` (after the preset is merged in, ``presets`` aside) is a dataclass here whose
fields are its keys, in the same order, with the same names; leaves keep their YAML values (lists become
tuples). No field has a default: ``params.yaml`` is the only place a value is written, and
``tests/test_config.py`` checks this tree against ``workflow/schemas/params.schema.yaml`` both ways.

:func:`build` turns a resolved mapping (or any node of it) into the typed node; :func:`node_type` gives the type
at a dotted key, so a command handed ``{"scenes.procedural": {...}}`` gets a :class:`ProceduralConfig` back.
This module imports nothing of the package but its errors: every layer may read the configuration.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

from igae.errors import ConfigError

Device = str  # auto | cpu | cuda | cuda:N
Precision = Literal["auto", "fp32", "bf16"]
Posterior = Literal["sample", "mean"]


@dataclass(frozen=True)
class RenderConfig:
    """``render``: the camera rig and images of every rendered scene."""

    image_size: int
    focal: float  # normalised focal length (fx / w); 1.09375 -> ~49.1 deg horizontal FOV
    camera_distance: float
    object_radius: float  # assets are scaled to fit in this sphere (inside [-1, 1]^3)
    test_fraction: float
    samples_per_pixel: int  # rounded up to a square (stratified sampling)


@dataclass(frozen=True)
class SceneSetConfig:
    """``scenes.igae_train`` / ``scenes.eval``: where a split's scenes come from."""

    source: Literal["procedural", "assets", "official"]
    count: Optional[int]
    views: int
    asset_dir: Optional[str]
    up_axis: Literal["y", "z"]


@dataclass(frozen=True)
class ProceduralConfig:
    """``scenes.procedural``: how procedural objects are generated."""

    min_parts: int
    max_parts: int
    texture_size: int
    resolution: int  # grid cells around a curved primitive


@dataclass(frozen=True)
class ScenesConfig:
    """``scenes``: the rendered multi-view datasets (IG-AE training and held-out evaluation)."""

    igae_train: SceneSetConfig
    eval: SceneSetConfig
    procedural: ProceduralConfig


@dataclass(frozen=True)
class RealImagesConfig:
    """``real_images``: the real-image set of the autoencoders (the paper's ImageNet images)."""

    source: Literal["package", "folder"]
    seed: int
    crops_per_photo: int
    heldout_photos: tuple[str, ...]
    folder: Optional[str]
    max_images: int
    heldout_fraction: float
    preprocess: Literal["center_crop", "none"]


@dataclass(frozen=True)
class NormalizerConfig:
    """``autoencoder.normalizer``: latents seen by NeRFs are ``(tanh(scale * z) + 1) / 2``."""

    scale: float
    eps: float


@dataclass(frozen=True)
class AutoencoderEvaluationConfig:
    """``autoencoder.evaluation``: how reconstructions are measured."""

    posterior: Posterior
    seed: int


@dataclass(frozen=True)
class ArchitectureConfig:
    """``autoencoder.embedded.architecture``: the embedded diffusers ``AutoencoderKL``."""

    block_out_channels: tuple[int, ...]  # 4 blocks: downsampling 2^3 = 8
    layers_per_block: int
    norm_num_groups: int
    mid_block_attention: bool

    def __post_init__(self) -> None:
        bad = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if bad:
            raise ConfigError(
                f"autoencoder.embedded.architecture.block_out_channels {list(self.block_out_channels)}: every "
                f"entry must be a multiple of norm_num_groups ({self.norm_num_groups})"
            )


@dataclass(frozen=True)
class EmbeddedTrainingConfig:
    """``autoencoder.embedded.training``: how the embedded autoencoder is trained."""

    steps: int
    batch_size: int
    crop_size: int
    learning_rate: float
    warmup_steps: int
    final_lr_fraction: float
    zero_init_residuals: bool  # every ResnetBlock2D starts as the identity (its last conv zeroed)
    l1_weight: float
    kl_weight: float
    lpips_weight: float
    precision: Precision
    seed: int
    log_every: int
    validate_every: int
    checkpoint_every: int


@dataclass(frozen=True)
class EmbeddedConfig:
    """``autoencoder.embedded``: the standard autoencoder trained by the pipeline."""

    rendered_views: bool
    architecture: ArchitectureConfig
    training: EmbeddedTrainingConfig


#: Where a pretrained autoencoder named by preset is looked up first (relative to the repository root): the shipped
#: ``igae-embedded-f8c16``, or a user's offline copy of a hub preset.
LOCAL_AUTOENCODERS = Path("resources") / "autoencoders"


@dataclass(frozen=True)
class AutoencoderConfig:
    """``autoencoder``: the standard autoencoder and its latent normalisation."""

    source: Literal["embedded", "pretrained"]
    pretrained: str
    allow_download: bool
    latent_channels: int
    normalizer: NormalizerConfig
    evaluation: AutoencoderEvaluationConfig
    device: Device
    threads: int
    embedded: EmbeddedConfig


@dataclass(frozen=True)
class TriplaneConfig:
    """``igae.triplanes``: one tri-plane per scene and the shared MLP (paper: 32 features, 64^2, 64 hidden)."""

    features: int
    resolution: int
    hidden: int
    plane_axes: Literal["orthogonal", "eg3d"]


@dataclass(frozen=True)
class VolumeConfig:
    """``igae.rendering``: sampling along rays (paper: 48 + 48 samples between 0.5 and 2.1)."""

    near: float
    far: float
    coarse_samples: int
    importance_samples: int
    stratified: bool  # jitter the coarse depths and draw importance depths at random (EG3D: also at eval)


@dataclass(frozen=True)
class MonitorConfig:
    """``igae.monitor``: which views are rendered and measured during IG-AE training, and how often."""

    scenes: int  # first N training scenes
    views: int  # per monitored scene and view set
    every: int  # epochs (and always after the last one)


@dataclass(frozen=True)
class LossWeightsConfig:
    """``igae.<stage>.weights``: the IG-AE objective; 0 switches a term off."""

    latent: float
    rgb: float
    ae_synthetic: float
    ae_real_mse: float
    ae_real_lpips: float
    planes_tv: float
    real_latent_tv: float


@dataclass(frozen=True)
class StageConfig:
    """``igae.warmup`` / ``igae.train``: one stage of IG-AE training."""

    epochs: int
    batch_size: int
    real_batch_size: int
    encoder_lr: float
    decoder_lr: float
    planes_lr: float
    mlp_lr: float
    lr_decay: float  # exponential, per epoch
    freeze_mlp_after_epoch: int  # -1: never
    train_autoencoder: bool
    update_scenes: bool
    cache_latents: bool  # encode each view once with the frozen encoder (posterior mean)
    weights: LossWeightsConfig
    seed: int
    log_every: int
    checkpoint_every: int


@dataclass(frozen=True)
class IgaeConfig:
    """``igae``: IG-AE training, stage 1 (warm-up) and stage 2 (joint)."""

    threads: int
    world_size: int  # processes per run (igae.training.distributed)
    nodes: int  # SLURM nodes they spread over
    triplanes: TriplaneConfig
    rendering: VolumeConfig
    monitor: MonitorConfig
    precision: Precision
    warmup: StageConfig
    train: StageConfig

    def __post_init__(self) -> None:
        if self.world_size % self.nodes:
            raise ConfigError(
                f"igae.world_size ({self.world_size}) is not a multiple of igae.nodes ({self.nodes}): every node "
                "runs the same number of processes"
            )


@dataclass(frozen=True)
class NerfConfig:
    """``nerf``: latent NeRFs and RGB baselines on the evaluation scenes."""

    methods: tuple[str, ...]
    autoencoders: tuple[str, ...]
    rgb_baselines: bool
    device: Device
    threads: int
    latent_supervision_steps: int
    rgb_alignment_steps: int
    rgb_loss_weight: float
    latent_loss_in_alignment: bool
    decoder_lr: float
    decoder_gamma: float
    posterior: Posterior
    latent_lr_factor: Optional[dict[str, float]]  # null: the paper's
    rgb_rays_per_batch: Optional[dict[str, int]]  # null: nerfstudio's
    model_overrides: Optional[dict[str, dict[str, Any]]]  # null: none
    eval_rays_per_chunk: Optional[int]  # null: the method's
    checkpoint_every: int
    eval_image_every: int
    log_every: int
    seed: int

    @property
    def total_steps(self) -> int:
        return self.latent_supervision_steps + self.rgb_alignment_steps


@dataclass(frozen=True)
class AblationConfig:
    """``ablation``: IG-AE stage 2 retrained without one loss term per variant."""

    terms: tuple[str, ...]
    methods: Optional[tuple[str, ...]]  # null: nerf.methods
    eval_scenes: Optional[int]  # null: all
    train: Optional[dict[str, Any]]  # changes to igae.train for every variant (null: none)


@dataclass(frozen=True)
class VideosConfig:
    """``videos``: turntable videos of the IG-AE's latent scenes and of the latent NeRFs (the paper's animation)."""

    frames: int  # cameras around the object, azimuth 0 to 2 pi
    fps: int
    elevation_degrees: float  # above the ground plane (the paper's video pose: ~27)
    radius: float  # camera distance from the object's centre (the paper's: 1.3)
    depth_resolution: int  # depth maps of the latent scenes are rendered at this size (latents at the AE's)
    nerf_scenes: Optional[int]  # the first N evaluation scenes get NeRF turntables (null: all; 0: none)
    nerf_methods: Optional[tuple[str, ...]]  # the methods filmed (null: every method of nerf.methods that runs)


@dataclass(frozen=True)
class StudyBaseConfig:
    """``study.base``: the point both sweeps of the scale study pass through."""

    scenes: int  # IG-AE scenes of the stage-2-epochs sweep
    train_epochs: int  # stage-2 epochs of the scenes sweep


@dataclass(frozen=True)
class StudyConfig:
    """``study``: the IG-AE's paired gain over the standard AE as a function of scale (number of IG-AE scenes,
    stage-2 epochs), each point an IG-AE trained from scratch and evaluated with latent NeRFs on validation
    scenes that no preset reports."""

    scenes: tuple[int, ...]  # IG-AE scene counts, the first N of scenes.igae_train, at base.train_epochs ([]: off)
    train_epochs: tuple[int, ...]  # stage-2 epochs, at base.scenes
    base: StudyBaseConfig
    methods: Optional[tuple[str, ...]]  # latent NeRF methods (null: nerf.methods)
    first_eval_scene: int  # the study's scenes are the evaluation scenes from this index on
    eval_scenes: int  # how many


@dataclass(frozen=True)
class Params:
    """The whole resolved ``params.yaml`` (its ``presets`` merged in and dropped)."""

    preset: str
    seed: int
    render: RenderConfig
    scenes: ScenesConfig
    real_images: RealImagesConfig
    autoencoder: AutoencoderConfig
    igae: IgaeConfig
    nerf: NerfConfig
    ablation: AblationConfig
    videos: VideosConfig
    study: StudyConfig


# ------------------------------------------------------------------------------------------ mapping <-> tree


def _is_node(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The field types of node ``cls``, by field name, in order (resolved once per class: the annotations are
    strings under ``from __future__ import annotations``)."""
    return typing.get_type_hints(cls)


def _optional_inner(kind: Any) -> Any:
    """``Optional[X]`` -> ``X``; anything else unchanged."""
    if typing.get_origin(kind) in (Union, types.UnionType):
        inner = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return kind


def _convert(kind: Any, value: Any, key: str) -> Any:
    inner = _optional_inner(kind)
    if value is None:
        if inner is kind:
            raise ConfigError(f"'{key}' is null: expected a value")
        return None
    if _is_node(inner):
        return build(inner, value, key)
    origin = typing.get_origin(inner)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' is {value!r}: expected a list")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"'{key}' is {value!r}: expected a mapping")
        return dict(value)
    if inner is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def build(cls: type, data: Any, key: str = "") -> Any:
    """The node ``cls`` from its mapping ``data`` (at dotted ``key``): exactly its fields, none missing, none more."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"'{key or '<top level>'}' is {data!r}: expected a mapping")
    types_ = field_types(cls)
    missing = [name for name in types_ if name not in data]
    unknown = [name for name in data if name not in types_ and not (cls is Params and name == "presets")]
    if missing or unknown:
        where = f"'{key}'" if key else "the configuration"
        problems = [f"missing key '{_join(key, name)}'" for name in missing]
        problems += [f"unknown key '{_join(key, name)}'" for name in unknown]
        raise ConfigError(f"{where} does not match the configuration tree: " + ", ".join(problems))
    return cls(**{name: _convert(kind, data[name], _join(key, name)) for name, kind in types_.items()})


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def node_type(key: str) -> Any:
    """The type of the node or leaf at dotted ``key`` (``"scenes.procedural"`` -> :class:`ProceduralConfig`)."""
    kind: Any = Params
    for part in key.split("."):
        inner = _optional_inner(kind)
        if not _is_node(inner) or part not in field_types(inner):
            raise ConfigError(f"'{key}' is not a key of params.yaml")
        kind = field_types(inner)[part]
    return kind


def build_node(key: str, value: Any) -> Any:
    """The typed node or leaf at dotted ``key`` from its plain value."""
    return _convert(node_type(key), value, key)


def to_plain(value: Any) -> Any:
    """A node (or leaf) back to plain JSON-able values: dataclasses to dicts, tuples to lists."""
    if dataclasses.is_dataclass(value):
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {name: to_plain(item) for name, item in value.items()}
    return value


def lookup(tree: Params, key: str) -> Any:
    """The node or leaf of ``tree`` at dotted ``key``."""
    node_type(key)  # names the key if it does not exist
    value: Any = tree
    for part in key.split("."):
        value = getattr(value, part)
    return value


def leaf_keys(cls: type = Params, prefix: str = "") -> list[str]:
    """Every dotted leaf key under ``cls`` (mappings typed ``dict`` are leaves)."""
    keys = []
    for name, kind in field_types(cls).items():
        inner = _optional_inner(kind)
        key = _join(prefix, name)
        keys += leaf_keys(inner, key) if _is_node(inner) else [key]
    return keys
