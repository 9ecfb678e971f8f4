"""Where the pilot runs: CUDA in bf16 when there is a GPU, else the CPU in fp32 (both overridable)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sample_forge.errors import SampleForgeError

__all__ = ["DeviceChoice", "pick_device", "cpu_threads"]

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


@dataclass(frozen=True)
class DeviceChoice:
    """A device ("cpu", "cuda", "cuda:1", "mps") and a torch dtype name."""

    device: str
    dtype: str

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    @property
    def is_cpu(self) -> bool:
        return self.device == "cpu"


def pick_device(device: str | None = None, dtype: str | None = None) -> DeviceChoice:
    """``pick_device()`` -> cuda/bf16 when CUDA is available (fp16 on GPUs without bf16), else cpu/fp32.
    An explicit ``device`` or ``dtype`` wins; asking for CUDA without a GPU is a clear error."""
    import torch

    if device in (None, "", "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SampleForgeError(f"--device {device}: no CUDA device is available (torch {torch.__version__})")
    if dtype in (None, "", "auto"):
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"  # bf16 matmuls on most CPUs are slower than fp32, and fp16 training is unstable
    key = str(dtype).lower()
    if key not in _DTYPES:
        raise SampleForgeError(f"--dtype {dtype}: expected one of {', '.join(sorted(set(_DTYPES.values())))}")
    return DeviceChoice(device=device, dtype=_DTYPES[key])


def cpu_threads(requested: int | None = None) -> int:
    """Torch CPU threads: ``requested`` if given, else the cores not already busy (at least 1).

    On a shared machine a second OpenMP thread that keeps being descheduled makes every matmul wait
    for it: measured here, generation with 2 threads ran several times slower than with 1 under load.
    """
    import torch

    if requested:
        return int(requested)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        idle = cores - os.getloadavg()[0]
    except OSError:
        idle = cores
    return max(1, min(torch.get_num_threads(), cores, int(round(idle))))
