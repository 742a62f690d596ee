"""The configuration: ``params.yaml`` resolved (preset merged, schema-validated) into one typed tree.

- :mod:`igae.config.loading` reads ``params.yaml``, merges the preset and validates against the JSON schema;
- :mod:`igae.config.tree` is the typed tree (:class:`Params` and its nodes), key for key;
- :class:`CommandParams` is how every ``igae`` command receives the nodes it reads: its ``--params`` option is
  either a params file (the whole tree, resolved with ``--preset``) or a JSON object of dotted keys to values,
  which is what the workflow's rules pass (``igae.plan.params_payload``), so a job reruns exactly when a key it
  reads changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from igae.config.loading import DEFAULT_SCHEMA, deep_merge, load_params, load_yaml, resolve_params, validate
from igae.config.tree import Params, build, build_node, lookup, node_type, to_plain
from igae.errors import ConfigError

__all__ = [
    "DEFAULT_SCHEMA",
    "CommandParams",
    "Params",
    "deep_merge",
    "load_config",
    "load_params",
    "load_yaml",
    "params_payload",
    "resolve_params",
    "typed_params",
    "validate",
]

Node = TypeVar("Node")


def typed_params(resolved: Mapping[str, Any]) -> Params:
    """The typed tree of a resolved configuration (:func:`resolve_params`' result)."""
    return build(Params, resolved)


def load_config(path: Path = Path("params.yaml"), preset: str | None = None) -> Params:
    """``params.yaml`` read, with ``preset`` (default: the file's own) merged in, validated and typed."""
    return typed_params(load_params(path, {"preset": preset} if preset else {}))


def params_payload(tree: Params, keys: Iterable[str]) -> str:
    """The JSON that hands the nodes at ``keys`` of ``tree`` to a command (``--params``)."""
    return json.dumps({key: to_plain(lookup(tree, key)) for key in keys}, sort_keys=True)


class CommandParams:
    """The configuration nodes one command was given, typed, by dotted key."""

    def __init__(self, nodes: Mapping[str, Any]):
        self._nodes = dict(nodes)

    @classmethod
    def from_option(cls, value: str, preset: str | None = None) -> CommandParams:
        """From ``--params``: a JSON object of dotted keys (as the workflow passes) or the path of a params file."""
        if value.lstrip().startswith("{"):
            if preset is not None:
                raise ConfigError("--preset applies to a params file, not to --params given as JSON")
            try:
                plain = json.loads(value)
            except json.JSONDecodeError as error:
                raise ConfigError(f"--params is not valid JSON: {error}") from error
            if not isinstance(plain, dict):
                raise ConfigError("--params JSON must be an object of dotted keys to values")
            return cls({key: build_node(key, item) for key, item in plain.items()})
        return cls({"": load_config(Path(value), preset)})

    def tree(self) -> Params:
        """The whole configuration (``--params`` named a params file)."""
        if "" not in self._nodes:
            raise ConfigError("this command reads the whole configuration: pass --params with a params file")
        return self._nodes[""]

    def get(self, key: str, kind: type[Node] | None = None) -> Node:
        """The node or leaf at dotted ``key``: given itself, or inside a node that was given."""
        node_type(key)  # a key params.yaml does not have is a programming error: name it
        for given, node in self._nodes.items():
            if given == key:
                return self._check(key, node, kind)
            if given == "" or key.startswith(given + "."):
                value: Any = node
                for part in (key if given == "" else key[len(given) + 1 :]).split("."):
                    value = getattr(value, part)
                return self._check(key, value, kind)
        raise ConfigError(f"this command needs '{key}' of params.yaml in --params (given: {sorted(self._nodes)})")

    @staticmethod
    def _check(key: str, value: Any, kind: type | None) -> Any:
        if kind is not None and not isinstance(value, kind):
            raise ConfigError(f"'{key}' is {type(value).__name__}, expected {kind.__name__}")
        return value
