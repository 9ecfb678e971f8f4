"""The pilot GRPO run (TRL) and the recorders for users' own trainers.

``run_pilot`` lives in :mod:`sample_forge.pilot.trl_pilot` (imports torch and TRL on first use)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_pilot", "PilotConfig"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sample_forge.pilot import trl_pilot

        return getattr(trl_pilot, name)
    raise AttributeError(name)
