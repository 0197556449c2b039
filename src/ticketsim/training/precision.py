"""Mixed precision: pick fp32/fp16/bf16 for the device, refuse impossible choices up front.

``auto`` picks bf16 on a GPU that supports it, else fp16 on a GPU, and fp32 on a CPU:
bf16 autocast is never faster there on real batches (measured: about equal on a CPU with
AMX-BF16 units, 2.45 vs 2.38 pairs/s on length-grouped Endava batches; ~30x slower on an
AVX2 CPU without them), so it is never chosen automatically. An explicit choice the device cannot run is
a :class:`TicketsimError` before the model is loaded, not a crash mid-run.
"""

from __future__ import annotations

from typing import Any

from ticketsim.errors import ConfigError


def device_kind() -> str:
    """'cuda', 'mps' or 'cpu' - where the trainer will run."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def resolve_precision(choice: str, device: str | None = None) -> str:
    """The precision to train in: 'fp32', 'fp16' or 'bf16' (see module docstring)."""
    device = device or device_kind()
    if choice == "auto":
        if device == "cuda":
            return "bf16" if _cuda_bf16() else "fp16"
        return "fp32"
    if choice == "fp16" and device != "cuda":
        raise ConfigError(
            f"precision fp16 needs a CUDA GPU, but training would run on {device}",
            field="train.precision",
            hint="use precision: auto (fp32 on a CPU) or fp32",
        )
    if choice == "bf16" and device == "cuda" and not _cuda_bf16():
        raise ConfigError(
            "precision bf16 is not supported by this GPU", field="train.precision",
            hint="use precision: fp16 or auto",
        )
    return choice


def trainer_flags(precision: str) -> dict[str, Any]:
    """The TrainingArguments flags for a resolved precision."""
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}
