"""A spending cap for one run (``--budget-usd``), priced per 1M prompt/completion tokens."""

from __future__ import annotations

import threading

__all__ = ["Budget", "call_cost"]


def call_cost(prompt_tokens: int, completion_tokens: int, price_in: float, price_out: float) -> float:
    """USD of one call; prices are per 1M tokens (the unit providers quote)."""
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000


class Budget:
    """Counts what this process spends; once ``spent >= limit_usd`` no new call starts.

    Calls already in flight when the cap is reached still finish (and are cached), so the overshoot is
    at most ``max_concurrency`` calls. Cache hits cost nothing."""

    def __init__(self, limit_usd: float | None = None) -> None:
        if limit_usd is not None and limit_usd < 0:
            raise ValueError("budget must be >= 0")
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self._lock = threading.Lock()

    def charge(self, usd: float) -> None:
        with self._lock:
            self.spent_usd += usd

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.spent_usd >= self.limit_usd

    def message(self) -> str:
        return (f"budget exhausted: spent ${self.spent_usd:.4f} of the ${self.limit_usd:.4f} cap "
                "(--budget-usd); no new LLM calls were started")

    def __repr__(self) -> str:
        return f"Budget(limit_usd={self.limit_usd}, spent_usd={self.spent_usd:.6f})"
