import copy
import dataclasses
import json
import subprocess
import sys

import pytest
import yaml

from igae.config import load_params, resolve_params, tree, typed_params
from igae.errors import ConfigError
from igae.plan import RunPlan


@pytest.fixture()
def params(repo):
    return yaml.safe_load((repo / "params.yaml").read_text())


def test_repository_params_are_valid_for_both_presets(params):
    tiny = resolve_params(copy.deepcopy(params))
    assert tiny["preset"] == "tiny" and tiny["scenes"]["igae_train"]["source"] == "procedural"
    paper = resolve_params({**params, "preset": "paper"})
    assert paper["scenes"]["igae_train"] == {
        "source": "assets",
        "asset_dir": "resources/assets/igae_train",
        "count": 500,
        "views": 100,
        "up_axis": "y",
    }
    assert paper["real_images"]["source"] == "folder" and paper["render"]["image_size"] == 128


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["render"].update(image_sise=128), "unknown key 'render.image_sise'"),
        (lambda p: p["render"].update(image_size="big"), "'render.image_size': 'big' is not of type 'integer'"),
        (lambda p: p["render"].update(image_size=100), "'render.image_size': 100 is not a multiple of 8"),
        (lambda p: p["scenes"]["eval"].update(views=0), "'scenes.eval.views': 0 is less than the minimum of 2"),
        (lambda p: p["render"].pop("focal"), "missing key 'render.focal'"),
        (lambda p: p.update(preset="huge"), "'preset' is 'huge'"),
        (lambda p: p["presets"]["paper"]["render"].update(fov=50), "preset 'paper'"),
        (lambda p: p["scenes"]["procedural"].update(min_parts=9), "min_parts' must not exceed"),
        (lambda p: p["real_images"].update(source="folder"), "'real_images.folder': None is not of type 'string'"),
    ],
)
def test_schema_errors_name_the_key(params, edit, message):
    edit(params)
    with pytest.raises(ConfigError) as error:
        resolve_params(params)
    assert message in str(error.value)


def test_cli_config_reports_errors_with_nonzero_exit(tmp_path, params):
    params["render"]["samples_per_pixel"] = -1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "igae", "config", "--params", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "'render.samples_per_pixel': -1 is less than the minimum of 1" in result.stderr
    with pytest.raises(ConfigError, match="does not exist"):
        load_params(tmp_path / "missing.yaml")


# -- the typed tree ------------------------------------------------------------------------------------------------
PRESETS = ("tiny", "tiny-scratch", "autoencoder-recipe", "micro", "cpu", "study", "paper")


def _schema_node(schema: dict, node: dict) -> dict:
    """``node`` with a ``$ref`` resolved."""
    ref = node.get("$ref")
    return schema["$defs"][ref.rsplit("/", 1)[1]] if ref else node


def _compare(schema: dict, node: dict, cls, key: str, problems: list[str]) -> None:
    fields = tree.field_types(cls)
    properties = {name: _schema_node(schema, value) for name, value in node["properties"].items()}
    if key == "":
        properties.pop("presets")
    if set(properties) != set(fields) or set(node["required"]) - {"presets"} != set(fields):
        problems.append(f"{key or '<top>'}: schema {sorted(properties)} vs tree {sorted(fields)}")
    for name, kind in fields.items():
        sub = properties.get(name, {})
        inner = tree._optional_inner(kind)
        if tree._is_node(inner):
            _compare(schema, sub, inner, f"{key}.{name}".lstrip("."), problems)
        elif sub.get("type") == "object" and "properties" in sub and name != "train":
            problems.append(f"{key}.{name}: an object in the schema but a leaf in the tree")


def test_the_tree_and_the_schema_have_the_same_keys(repo):
    """Every mapping of the schema is a dataclass of igae.config.tree with exactly its keys, and back."""
    schema = yaml.safe_load((repo / "workflow/schemas/params.schema.yaml").read_text())
    problems: list[str] = []
    _compare(schema, schema, tree.Params, "", problems)
    assert not problems, problems
    assert all(field.default is dataclasses.MISSING for field in _all_fields(tree.Params))  # no second defaults


def _all_fields(cls):
    for field in dataclasses.fields(cls):
        yield field
        inner = tree._optional_inner(tree.field_types(cls)[field.name])
        if tree._is_node(inner):
            yield from _all_fields(inner)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_round_trips_through_the_tree_key_for_key(repo, preset):
    resolved = load_params(repo / "params.yaml", {"preset": preset})
    plain = tree.to_plain(typed_params(resolved))
    expected = {key: value for key, value in resolved.items() if key != "presets"}
    assert json.dumps(plain, sort_keys=True) == json.dumps(expected, sort_keys=True)


def _enum(schema: dict, key: str):
    """The schema's enum at dotted ``key`` (None when the key has none)."""
    node = schema
    for part in key.split("."):
        node = _schema_node(schema, node)
        node = node.get("properties", {}).get(part, {})
    node = _schema_node(schema, node)
    return (
        node.get("enum")
        or (node.get("items") or {}).get("enum")
        or _schema_node(schema, node.get("items", {})).get("enum")
    )


def _perturbed(value, key: str, schema: dict):
    """Another value for the leaf at ``key``: what a user changing that one key could write."""
    if isinstance(value, bool):
        return not value
    if value is None:
        return (
            {"epochs": 1}
            if key == "ablation.train"
            else ({} if "nerf." in key else 1 if key.endswith(("count", "scenes", "chunk")) else "elsewhere")
        )
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 0.5 if value else 0.5
    if isinstance(value, str):
        choices = _enum(schema, key) or []
        others = [choice for choice in choices if choice != value]
        return (
            others[0] if others else ("cpu" if value == "auto" else "auto" if key.endswith("device") else value + "-x")
        )
    if isinstance(value, list):
        if value:
            return value[:-1]
        return (_enum(schema, key) or ["x"])[:1]
    if isinstance(value, dict):
        first = next(iter(value))
        return (
            {k: v for k, v in value.items() if k != first}
            if len(value) > 1 or not isinstance(value[first], (int, float))
            else {first: value[first] + 1}
        )
    raise AssertionError(f"no perturbation for {key}={value!r}")


def _plan_summary(resolved: dict) -> str:
    try:
        return json.dumps(RunPlan(typed_params(resolved)).summary(), sort_keys=True, default=str)
    except Exception as error:  # the plan read the key and refused the value: it reached the plan
        return f"error: {type(error).__name__}: {error}"


def test_every_leaf_key_reaches_the_run_plan_or_a_command(repo, paper_assets):
    """Change one leaf of params.yaml at a time: for every key, some preset's run plan changes (its runs, paths,
    resources, or the --params payload a command receives). A key that changes nothing anywhere was dropped."""
    schema = yaml.safe_load((repo / "workflow/schemas/params.schema.yaml").read_text())
    unreached = set(tree.leaf_keys())
    for preset in PRESETS:
        resolved = load_params(repo / "params.yaml", {"preset": preset})
        if preset == "paper":
            resolved["scenes"]["igae_train"]["count"] = 2  # the fixture's meshes
        base = _plan_summary(resolved)
        assert not base.startswith("error"), (preset, base)
        for key in sorted(unreached):
            changed = copy.deepcopy(resolved)
            *parents, leaf = key.split(".")
            node = changed
            for part in parents:
                node = node[part]
            node[leaf] = _perturbed(node[leaf], key, schema)
            if _plan_summary(changed) != base:
                unreached.discard(key)
    assert not unreached, f"keys that reach no command and no run of any preset: {sorted(unreached)}"
