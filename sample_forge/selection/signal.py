"""The pilot's weak-signal warning carried into the reasons of a selection made from its scores."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["weak_signal_note", "with_signal_note"]


def weak_signal_note(scores: str | os.PathLike[str] | None) -> str | None:
    """One clause for a reason when the report beside ``scores`` (``<scores>.report.json``) says the
    pilot's signal is weak; None when it says ok, or there is no report (a table from another tool)."""
    if scores is None:
        return None
    from sample_forge.impact.score_report import read_score_report, report_path

    rep = read_score_report(scores)
    pilot = (rep or {}).get("pilot") or {}
    if pilot.get("signal") != "weak":
        return None
    why = "; ".join(pilot.get("reasons") or []) or "see the report"
    return f"warning: weak pilot signal: {why} ({report_path(scores).name})"


def with_signal_note(rows: list[dict[str, Any]], note: str | None) -> list[dict[str, Any]]:
    if note:
        for r in rows:
            r["reason"] = f"{r['reason']}; {note}"
    return rows
