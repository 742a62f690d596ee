"""Precision follows the hardware: the choice of ``igae.hardware.autocast_dtype`` for both answers of the probe."""

import logging
from pathlib import Path

import pytest
import torch

from igae.config import load_params, resolve_params
from igae.errors import ConfigError
from igae.hardware import autocast_context, autocast_dtype, machine_description, native_bf16

CPU = torch.device("cpu")


def native(_device):
    return True


def emulated(_device):
    return False


@pytest.mark.parametrize(
    ("requested", "is_native", "expected"),
    [
        ("auto", native, torch.bfloat16),
        ("auto", emulated, None),
        ("fp32", native, None),
        ("fp32", emulated, None),
        ("bf16", native, torch.bfloat16),
        ("bf16", emulated, torch.bfloat16),
    ],
)
def test_choice_follows_the_probe(requested, is_native, expected):
    assert autocast_dtype(requested, CPU, is_native=is_native) is expected


def test_choice_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="igae.hardware"):
        autocast_dtype("auto", CPU, what="unit test", is_native=emulated)
    assert "unit test precision: fp32 (asked: auto; cpu native bf16: no)" in caplog.text


def test_explicit_bf16_on_emulating_hardware_warns_with_the_measured_cost(caplog):
    with caplog.at_level(logging.WARNING, logger="igae.hardware"):
        autocast_dtype("bf16", CPU, is_native=emulated)
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "12x" in warnings[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="igae.hardware"):
        autocast_dtype("bf16", CPU, is_native=native)
    assert not [record for record in caplog.records if record.levelno == logging.WARNING]


def test_unknown_precision_names_the_key():
    params = load_params(Path(__file__).parents[1] / "params.yaml")
    params["autoencoder"]["embedded"]["training"]["precision"] = "bfloat16"
    with pytest.raises(ConfigError, match=r"'autoencoder\.embedded\.training\.precision': 'bfloat16' is not one of"):
        resolve_params(params)
    with pytest.raises(ConfigError, match="expected one of auto, fp32, bf16"):
        autocast_dtype("half", CPU)


def test_probe_and_machine_description_agree_on_this_machine():
    machine = machine_description("cpu")
    assert machine["native_bf16"] is native_bf16(CPU) is bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert machine["cpu"]


def test_autocast_context_runs_the_chosen_dtype():
    a, b = torch.ones(4, 4), torch.ones(4, 4)
    with autocast_context(None, CPU):
        assert (a @ b).dtype == torch.float32
    with autocast_context(torch.bfloat16, "cpu"):
        assert (a @ b).dtype == torch.bfloat16
