"""Recognise the column names of the tables other tools write (LIMR, One-Shot-RLVR, verl, ours) and map
them onto our Problem / scores names, so ``select`` and ``export`` read them without a conversion step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sample_forge.subjects import normalize_subject, parse_level

__all__ = ["ALIASES", "normalize_row", "normalize_text"]

# our name -> names other tools use, first match wins (only used when our name is absent)
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("problem_id", "sample_id", "index", "unique_id", "idx", "limr_id"),
    "problem": ("prompt", "question", "input", "query"),
    "answer": ("ground_truth", "gold", "label", "final_answer", "golden_answer", "solution_answer"),
    "subject": ("math_subject", "type"),
    "level": ("math_level", "difficulty"),
    "lim": ("lim_score", "score_lim", "limr_score"),
    "hist_var": ("variance", "historical_variance", "std_var"),
    "source": ("data_source",),
}


def normalize_text(text: str | None) -> str:
    """Whitespace-normalised problem text, used to join tables that share no id."""
    return " ".join(str(text or "").split())


def _chat_content(value: Any) -> Any:
    """verl/TRL keep the prompt as chat messages; the problem is the user turn's content."""
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        users = [m for m in value if m.get("role") == "user"] or list(value)
        return users[-1].get("content")
    return value


def normalize_row(row: Mapping[str, Any], mapping: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of ``row`` with our column names filled in.

    ``mapping`` (``{our_name: their_name}``, from ``--columns``) wins; then the known aliases. The original
    columns stay, so nothing is lost. Subjects are normalised to the MATH names, levels to 1..5.
    """
    out = dict(row)
    for ours, theirs in (mapping or {}).items():
        if theirs not in row:
            continue
        out[ours] = row[theirs]
    for ours, names in ALIASES.items():
        if out.get(ours) is not None:
            continue
        for name in names:
            if row.get(name) is not None:
                out[ours] = row[name]
                break
    # verl rows: answer inside reward_model, index inside extra_info
    rm = row.get("reward_model")
    if out.get("answer") is None and isinstance(rm, Mapping) and rm.get("ground_truth") is not None:
        out["answer"] = rm["ground_truth"]
    ei = row.get("extra_info")
    if out.get("id") is None and isinstance(ei, Mapping) and ei.get("index") is not None:
        out["id"] = ei["index"]
    if "problem" in out:
        out["problem"] = _chat_content(out["problem"])
    if out.get("id") is not None:
        out["id"] = str(out["id"])
    if out.get("subject") is not None:
        out["subject"] = normalize_subject(out["subject"]) or out["subject"]
    if "level" in out:
        out["level"] = parse_level(out["level"])
    for key in ("lim", "hist_var", "learnability"):
        v = out.get(key)
        if isinstance(v, str):
            try:
                out[key] = float(v) if v.strip() else None
            except ValueError:
                pass
    return out
