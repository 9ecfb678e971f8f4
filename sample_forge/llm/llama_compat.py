"""llama.cpp's CPU "extra buffer types" (weight repacking, AMX kernels) break batched decoding on some
CPUs: on a VM with AMX (Sapphire Rapids) llama-cpp-python 0.3.16 returns garbage and 0.3.35/0.3.36
segfault in their first decode, while the plain CPU path is right (measured on SmolLM2-135M). The model
is small enough that the plain path costs nothing worth keeping, so sample-forge turns them off for the
in-process model and for ``python -m sample_forge.llm.llama_server``.
``SAMPLE_FORGE_LLAMA_EXTRA_BUFTS=1`` keeps llama.cpp's default."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["plain_cpu_buffers"]

_DONE = False


def plain_cpu_buffers() -> None:
    """Make every llama.cpp model loaded from now on in this process use plain CPU buffers."""
    global _DONE
    if _DONE or os.environ.get("SAMPLE_FORGE_LLAMA_EXTRA_BUFTS") == "1":
        return
    import llama_cpp.llama_cpp as c

    default = c.llama_model_default_params

    def params() -> Any:
        p = default()
        if hasattr(p, "use_extra_bufts"):  # older llama.cpp has no such buffers
            p.use_extra_bufts = False
        return p

    # Llama() builds its model params from this function; there is no keyword for the field
    c.llama_model_default_params = params
    _DONE = True
