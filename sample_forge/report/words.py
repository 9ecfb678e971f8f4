"""Stage counts and values in plain words, for the report and forge's terminal summary: never a Python
dict or list repr (``dropped: {}``, ``notes: []``, ``{'parse: …': 2}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["plain", "stage_facts"]

# how a count reads; keys not named here read as their name with spaces
_LABELS = {
    "read": "rows read",
    "kept": "kept",
    "no_answer": "without an answer",
    "dropped": "dropped",
    "tagged": "problems tagged",
    "failures": "with tagging failures",
    "mean_breadth": "mean skill breadth",
    "format": "log format",
    "samples_scored": "samples scored",
    "dropped_incomplete": "dropped for incomplete epochs",
    "filled": "epochs filled",
    "signal": "pilot signal",
    "never_solved": "never solved",
    "always_solved": "always solved",
    "generated": "candidates generated",
    "accepted": "accepted",
    "rejected": "rejected",
    "tokens": "tokens",
    "cost_usd": "cost (USD)",
    "budget_exhausted": "budget exhausted",
    "llm_requests_sent": "LLM requests sent",
    "chosen": "chosen",
    "prime": "synthetic prime",
    "unjoined": "rows without a partner in the join",
    "runs": "runs exported",
    "rows_per_run": "rows per run",
}
_SKIP = ("files", "ids", "notes")  # file lists and ids are shown elsewhere; notes get their own lines


def plain(v: Any) -> str:
    """A value as words: numbers to 4 significant digits, yes/no, "none" for an empty or missing
    value, a mapping of counts as "reason (n)", a list joined by commas."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, Mapping):
        if not v:
            return "none"
        return "; ".join(
            f"{k} ({plain(x)})" if isinstance(x, (int, float)) else f"{k}: {plain(x)}" for k, x in v.items()
        )
    if isinstance(v, (list, tuple, set)):
        return ", ".join(plain(x) for x in v) if v else "none"
    return str(v)


def stage_facts(counts: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(facts, notes): one "label: value" per count, and the stage's notes as sentences."""
    facts = [
        f"{_LABELS.get(k, k.replace('_', ' '))}: {plain(v)}" for k, v in counts.items() if k not in _SKIP
    ]
    notes = counts.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    return facts, [str(n) for n in notes]
