"""THE chosen sample of a forge run: the one to train on first. The synthetic prime when one passed
validation (it goes before the natural picks), else the natural pick the recipe's rule ranks first;
the next one in that order is the runner-up. Written to ``chosen.json`` and named by ``forge``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from sample_forge.errors import SampleForgeError
from sample_forge.selection.rules import _breadth, _score
from sample_forge.tables import atomic_write

__all__ = ["rank_chosen", "chosen_record", "write_chosen", "chosen_lines"]


def _polymath_key(row: Mapping[str, Any]) -> tuple[float, int, str]:
    # the polymath rule's own order inside a group, applied across the groups' picks: lowest LIM,
    # then broader skill spectrum, then id
    lim = _score(row, "lim")
    return (float("inf") if lim is None else lim, -_breadth(row), str(row["id"]))


def rank_chosen(rows: Sequence[Mapping[str, Any]], rule: str) -> list[Mapping[str, Any]]:
    """The selection in the order a run should train on it: prime rows first (as ranked), then the
    natural picks as ``rule`` ranks them (``polymath``: one pick per group, lowest LIM first; the
    ``top`` rules: already by rank)."""
    primes = [r for r in rows if r.get("rule") == "prime"]
    natural = [r for r in rows if r.get("rule") != "prime"]
    if rule == "polymath":
        natural = sorted(natural, key=_polymath_key)
    return [*primes, *natural]


def _brief(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": str(row["id"]), "rule": row.get("rule"), "reason": row.get("reason")}


def chosen_record(
    rows: Sequence[Mapping[str, Any]], rule: str, index: Sequence[Mapping[str, Any]], export_dir: str
) -> dict[str, Any]:
    """``chosen.json``: the chosen sample, why it comes first, the runner-up, and its run (directory,
    manifest, command lines) from the export index; paths relative to the forge run directory."""
    ranked = rank_chosen(rows, rule)
    first = ranked[0]
    sid = str(first["id"])
    if first.get("rule") == "prime":
        why = "the synthetic prime passed validation: it comes before the natural picks"
    else:
        why = f"no synthetic prime passed; the natural pick rule {rule} ranks first"
    run = next((e for e in index if sid in (e.get("ids") or [])), None)
    if run is None:
        raise SampleForgeError(f"the export index has no run for sample {sid}")
    return {
        **_brief(first),
        "why": why,
        "runner_up": _brief(ranked[1] if len(ranked) > 1 else None),
        "n_chosen": len(ranked),
        "one_dataset": run.get("id") is None,
        "dir": str(Path(export_dir) / run["dir"]),
        "manifest": str(Path(export_dir) / run["manifest"]),
        "commands": run["commands"],
        "updates": run["updates"],
    }


def write_chosen(path: Path, record: Mapping[str, Any]) -> Path:
    with atomic_write(path, "wb") as f:
        f.write(orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def chosen_lines(record: Mapping[str, Any], run_dir: Path) -> list[str]:
    """The end of forge's terminal summary: which sample, why, the runner-up, and the command that
    trains on it (the first trainer of ``[export] to``; the others are in chosen.json)."""
    lines = [f"chosen sample: {record['id']} (rule {record['rule']}: {record['reason']})"]
    lines.append(f"  why first: {record['why']}")
    ru = record.get("runner_up")
    lines.append(
        f"  runner-up: {ru['id']} (rule {ru['rule']}: {ru['reason']})" if ru else "  runner-up: none"
    )
    if record.get("one_dataset"):
        lines.append(f"  note: [export] one_dataset: the dataset holds all {record['n_chosen']} samples")
    lines.append(f"  its run: {run_dir / record['dir']}   (all trainers: {run_dir / 'chosen.json'})")
    trainer, command = next(iter(record["commands"].items()))
    lines.append(f"  train it ({trainer}, {record['updates'][trainer]} updates):")
    lines.append(command)
    return lines
