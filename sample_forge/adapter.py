"""The one table adapter: a row of any table (ours, LIMR, One-Shot-RLVR, verl, TRL, MATH, PRM800K,
benchmark files) in, our column names filled in. Every stage reads its input tables through it, so a
column alias or a chat-prompt rule known to one stage is known to all.

``--map ours=theirs`` wins over the aliases (a dotted name reaches into nested columns, as in verl's
``reward_model.ground_truth``); the original columns stay, so nothing is lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from sample_forge.errors import InputError
from sample_forge.subjects import normalize_subject, parse_level

__all__ = [
    "ALIASES",
    "SCORE_KEYS",
    "IMPACT_SCORE_KEYS",
    "adapt_row",
    "check_map",
    "column_of",
    "first_present",
    "subject_from_path",
    "chat_text",
    "lookup",
    "has",
    "read_table",
    "iter_table",
]

# our name -> the columns tried when a row has no non-empty value under our own name (first wins).
# The union of what the pool loader, select/export, decontamination and the pilot used to know.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "problem_id",
        "sample_id",
        "unique_id",
        "idx",
        "index",
        "extra_info.index",
        "limr_id",
        "question_id",
        "uuid",
        "problemid",
        "Record ID",
    ),
    "problem": ("problem", "question", "prompt", "input", "query", "problem_text", "Question", "text"),
    "answer": (
        "answer",
        "ground_truth",
        "reward_model.ground_truth",
        "final_answer",
        "gold",
        "label",
        "golden_answer",
        "solution_answer",
        "target",
    ),
    "solution": ("solution", "reasoning", "output"),
    "subject": ("subject", "math_subject", "type", "category"),
    "level": ("level", "math_level", "difficulty"),
    "lim": ("lim", "lim_score", "score_lim", "limr_score"),
    "hist_var": ("hist_var", "variance", "historical_variance", "std_var"),
    "source": ("source", "data_source"),
}

# the scores table `sample-forge score` writes, after its `id` column
IMPACT_SCORE_KEYS = (
    "lim",
    "hist_var",
    "learnability",
    "mean_acc",
    "first_acc",
    "last_acc",
    "n_epochs",
    "filled_epochs",
    "rank",
)
SCORE_KEYS = (
    *IMPACT_SCORE_KEYS,
    # `sample-forge passrate`
    "pass_rate",
    "pass_rate_lo",
    "pass_rate_hi",
    "pass_at_k",
    "k",
    "n_correct",
    "mean_tokens",
    "unparsed",
    "truncated",
)

_MISSING = object()


def lookup(row: Mapping[str, Any], col: str) -> Any:
    """``row[col]``; a dotted name reaches into nested columns. ``_MISSING`` when there is none."""
    if col in row:
        return row[col]
    cur: Any = row
    for part in col.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def has(row: Mapping[str, Any], col: str) -> bool:
    """Whether ``row`` has the (possibly dotted) column ``col`` at all."""
    return lookup(row, col) is not _MISSING


def _empty(v: Any) -> bool:
    return (
        v is None
        or v is _MISSING
        or (isinstance(v, float) and v != v)
        or (isinstance(v, str) and not v.strip())
    )


def chat_text(value: Any) -> Any:
    """verl/TRL keep the prompt as chat messages (a list, or its JSON text): the problem is the last
    user turn's content (the last message when no turn says ``user``). Anything else is returned as is."""
    msgs = value
    if isinstance(value, str) and value.lstrip().startswith("[{"):
        try:
            msgs = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(msgs, (list, tuple)) and msgs and all(isinstance(m, Mapping) for m in msgs):
        turns = [m for m in msgs if "content" in m]
        if not turns:
            return value
        users = [m for m in turns if m.get("role") == "user"] or turns
        return users[-1]["content"]
    return value


def subject_from_path(uid: Any) -> str | None:
    # PRM800K / MATH-500 ids name the subject folder: train/counting_and_probability/1.json
    if not isinstance(uid, str) or "/" not in uid:
        return None
    for part in reversed([p for p in uid.split("/") if p][:-1]):
        s = normalize_subject(part)
        if s:
            return s
    return None


def _number(v: Any, path: str | None, line: int | None, field: str) -> Any:
    """A score as a float (CSV cells are text; empty is missing); anything else is an InputError."""
    if isinstance(v, str):
        try:
            return float(v) if v.strip() else None
        except ValueError:
            pass
    elif v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return v
    raise InputError(f"not a number: {str(v)[:40]!r}", path=path, line=line, field=field)


def check_map(mapping: Mapping[str, str] | None, first: Mapping[str, Any], path: str) -> None:
    """Every column ``mapping`` names exists in ``first`` (the first row): a typo is an error up front."""
    for ours, theirs in (mapping or {}).items():
        if lookup(first, theirs) is _MISSING:
            raise InputError(
                f"--map {ours}={theirs}: no column '{theirs}' (columns: {', '.join(map(str, first))})",
                path=path,
                field=theirs,
            )


def column_of(row: Mapping[str, Any], ours: str, mapping: Mapping[str, str] | None = None) -> str | None:
    """The column of ``row`` that feeds our field ``ours``: the mapped one when the row has it, else the
    first alias with a non-empty value (None: no column does)."""
    theirs = (mapping or {}).get(ours)
    if theirs is not None and lookup(row, theirs) is not _MISSING:
        return theirs
    return next((c for c in ALIASES.get(ours, ()) if not _empty(lookup(row, c))), None)


_PLANS: dict[
    tuple[tuple[Any, ...], tuple[tuple[str, str], ...]], list[tuple[str, str | None, list[str]]]
] = {}


def _plan(
    keys: tuple[Any, ...], mapping: tuple[tuple[str, str], ...]
) -> list[tuple[str, str | None, list[str]]]:
    """:func:`column_of` for every field, narrowed to the columns a row with these ``keys`` can have
    (a dotted name through its first part): per field, the mapped column (None when absent) and the
    aliases to try in order. Rows of one table share their keys, so a plan is built once per table,
    not 26 look-ups per row."""
    plan = _PLANS.get((keys, mapping))
    if plan is None:
        have = set(keys)

        def can(c: str) -> bool:
            return c in have or ("." in c and c.split(".", 1)[0] in have)

        mapped = dict(mapping)
        plan = []
        for ours in dict.fromkeys([*mapped, *ALIASES]):
            theirs = mapped.get(ours)
            theirs = theirs if theirs is not None and can(theirs) else None
            cands = [c for c in ALIASES.get(ours, ()) if can(c)]
            if theirs is not None or cands:
                plan.append((ours, theirs, cands))
        if len(_PLANS) > 256:  # tables with ever-changing keys: keep the cache small
            _PLANS.clear()
        _PLANS[(keys, mapping)] = plan
    return plan


def first_present(row: Mapping[str, Any], ours: str) -> str | None:
    """The first alias of ``ours`` that ``row`` has at all, empty or not."""
    return next((c for c in ALIASES.get(ours, ()) if lookup(row, c) is not _MISSING), None)


def adapt_row(
    row: Mapping[str, Any],
    mapping: Mapping[str, str] | None = None,
    *,
    path: str | None = None,
    line: int | None = None,
    scores: bool = True,
) -> dict[str, Any]:
    """A copy of ``row`` with our column names filled in (``id`` as text, ``problem`` as the user turn of
    a chat prompt, ``subject`` as a MATH subject when it names one, ``level`` 1..5 or None, scores as
    floats). A field is set only when a value is found, so a table's own columns are never padded.
    A score that is not a number is an InputError naming ``path``, ``line`` and the field (``scores``
    False: score columns are left as they are, for readers that do not use them)."""
    out = dict(row)
    for ours, theirs, cands in _plan(tuple(row), tuple((mapping or {}).items())):
        if theirs is not None and (v := lookup(row, theirs)) is not _MISSING:
            out[ours] = v
            continue
        for c in cands:
            v = lookup(row, c)
            if not _empty(v):
                out[ours] = v
                break
    if "problem" in out:
        out["problem"] = chat_text(out["problem"])
    if out.get("id") is not None:
        out["id"] = str(out["id"]).strip()
    if out.get("subject") is not None:
        out["subject"] = normalize_subject(str(out["subject"])) or out["subject"]
    elif (s := subject_from_path(out.get("id"))) is not None:
        out["subject"] = s
    if "level" in out:
        out["level"] = parse_level(out["level"])
    for key in SCORE_KEYS if scores else ():
        if key in out:
            out[key] = _number(out[key], path, line, key)
    return out


def iter_table(
    path: str | os.PathLike[str] | None,
    mapping: Mapping[str, str] | None = None,
    *,
    need: Iterable[str] = (),
    rows: Iterable[Mapping[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Adapted rows of a table, each with ``_line`` (1-based row number). A row with no value for a
    ``need`` field is an InputError naming file, line and field. ``rows``: records already in memory
    (``path`` then only names them in errors). A mapped column a table lacks falls back to the aliases
    (one ``--map`` serves a pool and its scores table); :func:`check_map` is the strict check."""
    from sample_forge.tables import iter_rows

    need = tuple(need)
    label = None if path is None else str(path)
    if rows is None and path is None:
        raise ValueError("iter_table needs a path or rows")
    source = rows if rows is not None else iter_rows(path)  # type: ignore[arg-type]
    for i, raw in enumerate(source, start=1):
        row = adapt_row(raw, mapping, path=label, line=i)
        for f in need:
            if _empty(row.get(f)):
                hint = f"; map one with --map {f}=COLUMN" if f in ALIASES else ""
                raise InputError(
                    f"missing or empty (columns: {', '.join(map(str, raw))}{hint})",
                    path=label,
                    line=i,
                    field=f,
                )
        row["_line"] = i
        yield row


def read_table(
    path: str | os.PathLike[str],
    mapping: Mapping[str, str] | None = None,
    *,
    need: Iterable[str] = (),
    default_id: bool = True,
) -> list[dict[str, Any]]:
    """:func:`iter_table` as a list. ``default_id``: a row without an id gets its 0-based row number
    (verl's ``extra_info.index`` convention)."""
    out = list(iter_table(path, mapping, need=need))
    if default_id:
        for r in out:
            if _empty(r.get("id")):
                r["id"] = str(r["_line"] - 1)
    return out
