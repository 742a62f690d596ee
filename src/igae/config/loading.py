"""``params.yaml``: load it, apply the selected preset, validate it against the JSON schema (plain mappings).

The file's top-level values are the ``tiny`` preset; ``presets.<name>`` holds what another preset changes.
:func:`resolve_params` deep-merges ``presets[preset]`` over the top level and validates the result (and every
other preset's result, so a typo in the paper preset is caught while running the tiny one). Errors name the
offending key and what was expected.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml

from igae.errors import ConfigError

#: The schema beside the workflow (the package is installed in editable mode from the repository).
DEFAULT_SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "params.schema.yaml"


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of ``base`` with ``override`` merged in recursively (mappings merge, everything else replaces)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_yaml(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"configuration file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"'{path}' is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"'{path}' must hold a mapping of keys to values")
    return data


def _dotted(path) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _describe(error) -> str:
    """One line per schema violation: the dotted key and what was expected."""
    import jsonschema

    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(f"'{_dotted([*error.absolute_path, key])}'" for key in unexpected)
        return f"unknown key {keys} (allowed here: {', '.join(allowed)})"
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return ", ".join(f"missing key '{_dotted([*error.absolute_path, key])}'" for key in missing)
    best = jsonschema.exceptions.best_match([error])
    return f"'{_dotted(error.absolute_path)}': {best.message}"


def validate(params: dict, schema: dict, origin: str) -> None:
    """Raise :class:`ConfigError` listing every violation of ``schema`` in ``params``."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [_describe(error) for error in errors]
    procedural = params.get("scenes", {}).get("procedural", {})
    if isinstance(procedural, dict) and procedural.get("min_parts", 0) > procedural.get("max_parts", 1 << 30):
        problems.append("'scenes.procedural.min_parts' must not exceed 'scenes.procedural.max_parts'")
    rendering = params.get("igae", {}).get("rendering", {})
    if isinstance(rendering, dict) and rendering.get("near", 0) >= rendering.get("far", math.inf):
        problems.append(
            f"'igae.rendering.near' ({rendering['near']}) must be below 'igae.rendering.far' ({rendering['far']})"
        )
    if problems:
        raise ConfigError(f"invalid configuration ({origin}):\n  - " + "\n  - ".join(problems))


def resolve_params(params: dict, schema_path: Path = DEFAULT_SCHEMA, origin: str = "params.yaml") -> dict:
    """Validate ``params`` and return it with the selected preset's overrides applied."""
    schema = load_yaml(schema_path)
    presets = params.get("presets")
    if not isinstance(presets, dict):
        raise ConfigError(f"invalid configuration ({origin}): missing mapping 'presets'")
    preset = params.get("preset")
    if preset not in presets:
        raise ConfigError(
            f"invalid configuration ({origin}): 'preset' is {preset!r}: expected one of {sorted(presets)}"
        )
    resolved = None
    for name, override in presets.items():
        if not isinstance(override, dict):
            raise ConfigError(f"invalid configuration ({origin}): 'presets.{name}' must be a mapping")
        candidate = deep_merge(params, override)
        candidate["preset"] = name
        validate(candidate, schema, origin if name == preset else f"{origin}, preset '{name}'")
        if name == preset:
            resolved = candidate
    assert resolved is not None
    return resolved


def load_params(
    path: Path = Path("params.yaml"), overrides: dict[str, Any] | None = None, schema_path: Path = DEFAULT_SCHEMA
) -> dict:
    """Read, override (top-level keys, as ``snakemake --config``) and resolve a params file."""
    params = load_yaml(path)
    params.update(overrides or {})
    return resolve_params(params, schema_path, origin=str(path))
