"""What the machine computes, and the training precision chosen from it: ``auto`` | ``fp32`` | ``bf16``.

bfloat16 autocast pays only where the device computes bf16 natively: CUDA GPUs that support it, and CPUs whose
oneDNN build reports bf16 support (AVX512-BF16 or AMX: Intel Cooper Lake, Sapphire Rapids and later, AMD Zen 4
and later). Elsewhere torch emulates it, and the emulation is far slower than fp32: on 2 cores of an AMD EPYC
(Zen 3, AVX2, no native bf16) a Conv2d(32->64, 3x3) forward+backward on 16x32x32x32 took 1.33 s in bf16 against
0.11 s in fp32, and the embedded autoencoder trained at 0.20 against 2.5-3.3 steps/s. So ``auto`` (the default)
autocasts to bf16 only on native hardware and runs fp32 elsewhere; an explicit ``bf16`` is obeyed, with a warning
where it is emulated.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from igae.errors import ConfigError

if TYPE_CHECKING:  # torch is imported where it is used: settings modules read PRECISIONS without paying for it
    import torch

log = logging.getLogger(__name__)

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")

#: Measured cost of emulated bf16, quoted by the warning an explicit ``bf16`` gives on such hardware.
EMULATED_BF16_COST = "a conv forward+backward took 12x longer in bf16 than in fp32 on an AVX2-only AMD EPYC"


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (not by emulation)."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows where that is missing."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(device: str = "cpu") -> dict[str, Any]:
    """What a figure was measured on: accelerator, CPU model, vector capability, native bf16, cores, threads and
    software versions (every benchmark prints it beside its timings)."""
    import torch

    torch_device = torch.device(device)
    return {
        "device": torch.cuda.get_device_name(torch_device) if torch_device.type == "cuda" else "cpu",
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(torch_device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def describe_machine(machine: dict[str, Any]) -> str:
    """One line for a report: ``machine_description``'s figures in words."""
    return (
        f"{machine['device']} | CPU {machine['cpu']} ({machine['cpu_capability']}, native bf16 "
        f"{'yes' if machine['native_bf16'] else 'no'}; {machine['cpu_count']} cores, {machine['torch_threads']} "
        f"torch threads) | torch {machine['torch']}"
    )


def check_precision(value: str, key: str) -> str:
    """``value`` if it is a known precision, else a ``ConfigError`` naming ``key``."""
    if value not in PRECISIONS:
        raise ConfigError(f"{key}: {value!r} is not a precision; expected one of {', '.join(PRECISIONS)}")
    return value


def autocast_dtype(
    requested: str,
    device: torch.device,
    *,
    what: str = "training",
    is_native: Callable[[torch.device], bool] = native_bf16,
) -> torch.dtype | None:
    """The autocast dtype for ``requested`` precision on ``device`` (``None``: plain fp32), logged.

    ``auto`` gives bf16 where ``is_native(device)`` says the device computes it natively, fp32 elsewhere.
    ``bf16`` is obeyed everywhere, with a warning where the device only emulates it.
    """
    import torch

    check_precision(requested, "precision")
    device = torch.device(device)
    native = is_native(device)
    if requested == "bf16" and not native:
        log.warning(
            "%s: precision bf16 was asked for, but %s has no native bfloat16 and emulates it (%s); "
            "precision auto or fp32 is much faster here",
            what,
            device,
            EMULATED_BF16_COST,
        )
    use_bf16 = requested == "bf16" or (requested == "auto" and native)
    log.info(
        "%s precision: %s (asked: %s; %s native bf16: %s)",
        what,
        "bf16 autocast" if use_bf16 else "fp32",
        requested,
        device,
        "yes" if native else "no",
    )
    return torch.bfloat16 if use_bf16 else None


def autocast_context(dtype: torch.dtype | None, device: torch.device | str):
    """The autocast context of a dtype from :func:`autocast_dtype` on ``device`` (``None``: fp32, autocast off)."""
    import torch

    return torch.autocast(torch.device(device).type, dtype=dtype or torch.float32, enabled=dtype is not None)
