"""The loss ablation: IG-AE stage 2 retrained without one term of its objective (igae_spec.md §3, §7).

A *variant* is ``full`` (every term, the reference) or ``no-<term>``. The stage-1 warm-up is shared: it fits the
tri-planes to the frozen standard AE with L_latent alone, so only the joint stage has terms to remove. Torch-free,
so the workflow and the reporting can name variants without importing the trainer.
"""

from __future__ import annotations

from typing import Mapping

from igae.errors import ConfigError

#: Ablation term -> the :class:`igae.config.tree.LossWeightsConfig` fields it switches off.
ABLATION_TERMS: dict[str, tuple[str, ...]] = {
    "latent": ("latent",),  # L_latent: encoder latents vs tri-plane renders
    "rgb": ("rgb",),  # L_RGB: decoded tri-plane renders vs the views
    "ae-synthetic": ("ae_synthetic",),  # L_ae on rendered views
    "ae-real": ("ae_real_mse", "ae_real_lpips"),  # L_ae on real images (MSE and LPIPS)
    "tv": ("planes_tv", "real_latent_tv"),  # total variation of the tri-planes and of real-image latents
}
FULL = "full"
TERM_LABELS = {
    "latent": "L_latent",
    "rgb": "L_RGB",
    "ae-synthetic": "L_ae (synthetic)",
    "ae-real": "L_ae (real)",
    "tv": "TV",
}


def variant_name(term: str | None) -> str:
    """``full`` for no term, else ``no-<term>``."""
    if term is None:
        return FULL
    check_term(term)
    return f"no-{term}"


def variant_term(variant: str) -> str | None:
    """The term a variant removes (None for ``full``); raises ConfigError for an unknown variant."""
    if variant == FULL:
        return None
    if variant.startswith("no-") and variant[3:] in ABLATION_TERMS:
        return variant[3:]
    raise ConfigError(f"unknown ablation variant '{variant}' (expected {', '.join(variant_names(ABLATION_TERMS))})")


def variant_names(terms) -> list[str]:
    """``full`` then ``no-<term>`` for each term, in the given order."""
    return [FULL, *(variant_name(term) for term in terms)]


def variant_label(variant: str) -> str:
    term = variant_term(variant)
    return "IG-AE (all terms)" if term is None else f"w/o {TERM_LABELS[term]}"


def check_term(term: str) -> None:
    if term not in ABLATION_TERMS:
        raise ConfigError(f"unknown ablation term '{term}' (expected one of {', '.join(ABLATION_TERMS)})")


def ablated_weights(weights: Mapping[str, float], term: str) -> dict[str, float]:
    """``weights`` (a LossWeightsConfig as a mapping) with the fields of ``term`` set to 0."""
    check_term(term)
    return {name: 0.0 if name in ABLATION_TERMS[term] else value for name, value in weights.items()}
