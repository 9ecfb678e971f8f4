"""A spending cap for one run (``--budget-usd``), priced per 1M prompt/completion tokens.

With a ledger file the cap holds across restarts: every billed call appends one JSON line to it, and a
run started again with the same ledger counts what the earlier attempts paid. Without one, the cap
counts this process only."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import orjson

from sample_forge.errors import InputError

__all__ = ["Budget", "call_cost"]

log = logging.getLogger(__name__)


def call_cost(prompt_tokens: int, completion_tokens: int, price_in: float, price_out: float) -> float:
    """USD of one call; prices are per 1M tokens (the unit providers quote)."""
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000


def _read_ledger(path: Path) -> float:
    """The sum of a ledger. A last line cut by a kill mid-write is removed (the call it recorded is lost,
    not the run), so the next append starts on a line of its own."""
    total = 0.0
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(keep)
        data = data[:keep]
    lines = data.split(b"\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            usd = float(orjson.loads(line)["usd"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InputError("not a budget ledger line", path=path, line=i, field="usd") from None
        total += usd
    return total


class Budget:
    """Counts spending; once ``spent >= limit_usd`` no new call starts.

    Calls already in flight when the cap is reached still finish (and are cached), so the overshoot is
    at most ``max_concurrency`` calls. Cache hits cost nothing. ``spent_usd`` includes ``earlier_usd``,
    what the ledger says earlier runs paid."""

    def __init__(self, limit_usd: float | None = None, ledger: str | os.PathLike[str] | None = None) -> None:
        if limit_usd is not None and limit_usd < 0:
            raise ValueError("budget must be >= 0")
        self.limit_usd = limit_usd
        self.ledger = Path(ledger) if ledger is not None else None
        self.earlier_usd = _read_ledger(self.ledger) if self.ledger and self.ledger.exists() else 0.0
        self.spent_usd = self.earlier_usd
        self._lock = threading.Lock()

    @property
    def run_usd(self) -> float:
        """Spent by this process."""
        return self.spent_usd - self.earlier_usd

    def charge(self, usd: float, model: str = "") -> None:
        with self._lock:
            self.spent_usd += usd
            if self.ledger is not None and usd:
                line = orjson.dumps({"time": round(time.time(), 3), "model": model, "usd": usd}) + b"\n"
                try:
                    self.ledger.parent.mkdir(parents=True, exist_ok=True)
                    with open(self.ledger, "ab") as f:  # one short append per billed call
                        f.write(line)
                except OSError as e:  # the answer was paid for: keep it (it is cached next), say so
                    log.warning(
                        "budget ledger %s not written (%s): a restart will not count $%.6f",
                        self.ledger,
                        e,
                        usd,
                    )

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.spent_usd >= self.limit_usd

    def message(self) -> str:
        earlier = (
            f", ${self.earlier_usd:.4f} of it by earlier runs (ledger {self.ledger})"
            if self.earlier_usd
            else ""
        )
        return (
            f"budget exhausted: spent ${self.spent_usd:.4f} of the ${self.limit_usd:.4f} cap{earlier} "
            "(--budget-usd); no new LLM calls were started"
        )

    def __repr__(self) -> str:
        return f"Budget(limit_usd={self.limit_usd}, spent_usd={self.spent_usd:.6f})"
