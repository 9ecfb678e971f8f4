"""``<stem>.report.json``: the run report written beside a score table (pilot diagnostics and verdict,
error-bar settings, join counts). ``score -o`` and forge's score stage both write through here, and
``select`` and the HTML report read it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sample_forge.errors import InputError

__all__ = ["report_path", "slim_report", "write_scores", "read_score_report"]

_JOIN_COUNTS = ("joined", "left_unmatched", "right_unmatched", "ambiguous")


def report_path(out: str | Path) -> Path:
    """``<stem>.report.json``: the run report written beside a score table."""
    from sample_forge.join import side_path

    return side_path(out, "report", ".json")


def slim_report(rep: dict[str, Any]) -> dict[str, Any]:
    """The report without the problem texts and the join's row lists (those are in the tables)."""
    slim = {k: v for k, v in rep.items() if k != "texts"}
    if "join" in slim:
        j = slim["join"]
        slim["join"] = {k: j[k] for k in _JOIN_COUNTS} | {"unjoined": len(j["unjoined"])}
    return slim


def write_scores(out: str | Path, rows: list[dict[str, Any]], report: dict[str, Any]) -> Path:
    """The score table, its report beside it, and the pool join's rejects when a pool was joined."""
    from sample_forge.tables import write_rows

    out = Path(out)
    write_rows(out, rows)
    report_path(out).write_text(json.dumps(slim_report(report), ensure_ascii=False, indent=1) + "\n")
    if "join" in report:
        from sample_forge.join import rejects_path

        write_rows(rejects_path(out), report["join"]["rejects"])
    return report_path(out)


def read_score_report(table: str | Path) -> dict[str, Any] | None:
    """The report beside a score table, or None when there is none (a table from another tool)."""
    path = report_path(table)
    if not path.is_file():
        return None
    try:
        rep = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=str(path), line=e.lineno) from None
    if not isinstance(rep, dict):
        raise InputError("a score report must be a JSON object", path=str(path))
    return rep
