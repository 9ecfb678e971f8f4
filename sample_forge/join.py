"""The one join of two tables and the one text normalizer behind it.

Rows are matched on ``id``, else on the whitespace-normalised problem text. The report holds both
directions (left rows that found nothing, right rows nothing reached) and every ambiguous key; a
command prints its counts and writes the unjoined rows to ``<stem>.rejects.jsonl``, never one line per row.

Rows that neither key joins can be found by containment (a trainer's prompt wraps the problem in
text nobody removed): every right text is indexed once by its first ``ANCHOR`` characters in an
Aho-Corasick automaton (``pyahocorasick``; a dict of anchors where it is not installed), each left
text is scanned once, and each anchor hit is confirmed in place: time linear in the texts' length,
never a left x right loop.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import deque as _deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, count, repeat
from operator import is_, ne, not_
from pathlib import Path
from typing import Any

__all__ = [
    "normalize_text",
    "normalize_texts",
    "join",
    "contained_matches",
    "ContainmentIndex",
    "Columns",
    "JoinReport",
    "rejects",
    "rejects_path",
    "side_path",
    "count_line",
]

Row = Mapping[str, Any]


def normalize_text(text: Any) -> str:
    """Whitespace-normalised text: the one key tables that share no id are joined on."""
    s = text if type(text) is str else str(text or "")
    u = s.replace("\n", " ")
    if u.isprintable():
        # the only whitespace left is the ASCII space (every other str.isspace() character is a
        # control or separator, which isprintable() refuses): halve its runs, no list of words
        while "  " in u:
            u = u.replace("  ", " ")
        return u.strip(" ")
    return " ".join(s.split())


def normalize_texts(values: Iterable[Any], *, known: Iterable[str] = ()) -> list[str]:
    """:func:`normalize_text` of each value. ``known``: texts already normalized (the other side of
    a join); a value whose normal form is one of them is found by :func:`_known_forms` in passes of
    C, and only the rest is normalized one by one, which is most of the cost of joining a large table."""
    vals = values if isinstance(values, list) else list(values)
    done = list(known)
    if not done:
        return [normalize_text(v) for v in vals]
    out = _known_forms(vals, dict(zip(done, done)))
    for j in _nones(out):
        out[j] = normalize_text(vals[j])
    return out


def _left_rows_of(texts: Sequence[Any], at: Mapping[str, int]) -> list[int | None]:
    """For each right text, the left row whose normal form it has (``at``: normal form -> left row),
    or None: :func:`_known_forms`, then :func:`normalize_text` for what it did not find."""
    found = _known_forms(texts, at)
    for j in _nones(found):
        found[j] = at.get(normalize_text(texts[j]))
    return found


def _known_forms(texts: Sequence[Any], at: Mapping[str, Any]) -> list[Any]:
    """``at[normal form]`` of each text found without normalizing it, else None. A text equal to a key
    (a normal form) is its own normal form; so is one whose cheap form is (newlines to spaces, one
    halving of double spaces, ends stripped: each step keeps the normal form). Both are looked up in
    passes of C. Only strings are looked up (a cell may hold a list: a multimodal chat turn)."""
    plain = set(map(type, texts)) <= {str}
    found = list(map(at.get, texts if plain else [t if type(t) is str else None for t in texts]))
    miss = _nones(found)
    strs = (
        miss
        if plain
        else list(compress(miss, map(is_, map(type, map(texts.__getitem__, miss)), repeat(str))))
    )
    sp = repeat(" ")
    cheap = map(
        str.replace, map(str.replace, map(texts.__getitem__, strs), repeat("\n"), sp), repeat("  "), sp
    )
    _deque(map(found.__setitem__, strs, map(at.get, map(str.strip, cheap, sp))), maxlen=0)
    return found


def _where_not(flags: Iterable[Any]) -> list[int]:
    """Indexes of the false flags, in one pass of C (``compress``), not a Python loop per row."""
    return list(compress(count(), map(not_, flags)))


def _nones(values: Iterable[Any]) -> list[int]:
    """Indexes of the None values (a row index 0 is not one), in one pass of C."""
    return list(compress(count(), map(is_, values, repeat(None))))


def side_path(out: str | os.PathLike[str], kind: str, ext: str = ".jsonl") -> Path:
    """The one name of a file written beside a table: ``<stem>.<kind><ext>`` (``scores.jsonl`` ->
    ``scores.rejects.jsonl``, ``tags.parquet`` -> ``tags.failures.jsonl``)."""
    p = Path(out)
    return p.with_name(f"{p.stem if p.suffix else p.name}.{kind}{ext}")


def rejects_path(out: str | os.PathLike[str]) -> Path:
    """``<stem>.rejects.jsonl`` next to the file a command writes (``sel.parquet`` -> ``sel.rejects.jsonl``)."""
    return side_path(out, "rejects")


@dataclass
class JoinReport:
    """``match[i]``: the right row left row ``i`` joined (None: unmatched or ambiguous). ``left_unmatched``
    and ``right_unmatched``: indexes of rows that found / were reached by nothing; ``ambiguous``: one entry
    per ambiguous key (``side``, ``by``, ``key``, ``left``/``right`` indexes, ``used``: the right index
    joined, or None when the key joined nothing)."""

    match: list[Row | None]
    left_unmatched: list[int] = field(default_factory=list)
    right_unmatched: list[int] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    by_text: int = 0  # left rows joined on text (no id matched)
    by_containment: int = 0

    @property
    def joined(self) -> int:
        return sum(m is not None for m in self.match)

    def counts(self) -> dict[str, int]:
        return {
            "joined": self.joined,
            "left_unmatched": len(self.left_unmatched),
            "right_unmatched": len(self.right_unmatched),
            "ambiguous": len(self.ambiguous),
        }


class Columns(Sequence[Row]):
    """A table held as columns (name -> list), read as rows: :func:`join` takes the columns it
    needs whole, and a row is built only when one is asked for (an unmatched one, for its reject)."""

    def __init__(self, columns: Mapping[str, Sequence[Any]]) -> None:
        self.columns = dict(columns)
        self._n = len(next(iter(self.columns.values()), ()))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._n))]
        return {k: v[i] for k, v in self.columns.items()}

    def column(self, name: str) -> Sequence[Any]:
        return self.columns.get(name) or [None] * self._n


def _column(rows: Sequence[Row], name: str) -> Sequence[Any]:
    return rows.column(name) if isinstance(rows, Columns) else [r.get(name) for r in rows]


def _key_id(row: Row, key: str) -> str | None:
    v = row.get(key)
    return None if v is None or str(v).strip() == "" else str(v).strip()


def join(
    left: Sequence[Row],
    right: Sequence[Row],
    *,
    left_key: str | None = "id",
    right_key: str = "id",
    text: str = "problem",
    by_text: bool = True,
    containment: bool = False,
    contain_in: str | None = None,
    left_normalized: bool = False,
) -> JoinReport:
    """Join each left row to one right row: on ``left_key``/``right_key``, else (``by_text``) on
    :func:`normalize_text` of ``text``, else (``containment``) through :func:`contained_matches` on
    the left field ``contain_in`` (default ``text``). ``left_key`` None: no id join (a prompt-keyed
    log's ids are hashes); ``left_normalized``: the left texts are already :func:`normalize_text`'s.

    Ambiguity is reported, never merged silently: a right id held by several rows joins the first of
    them (the others are reported as duplicates); a text held by several right rows joins nothing
    (which one is meant cannot be known: MATH train holds one problem twice under two ids).
    """
    by_id: dict[str, int] = {}
    dup_ids: dict[str, list[int]] = {}
    for j, r in enumerate(right if left_key is not None else ()):
        k = _key_id(r, right_key)
        if k is None:
            continue
        if k in by_id:
            dup_ids.setdefault(k, [by_id[k]]).append(j)
        else:
            by_id[k] = j
    match: list[Row | None] = [None] * len(left)
    reached = [False] * len(right)
    rep = JoinReport(match)
    ambiguous_text: dict[str, dict[str, Any]] = {}

    def same_text(norm: str, rows: list[int], i: int) -> None:
        """Left row ``i`` found a text that the right rows ``rows`` share: reported, never merged."""
        entry = ambiguous_text.setdefault(
            norm, {"side": "right", "by": "text", "key": norm, "left": [], "right": rows, "used": None}
        )
        entry["left"].append(i)

    rest: list[int] = []  # left rows no id joined
    for i, lrow in enumerate(left if left_key is not None else ()):
        k = _key_id(lrow, left_key)
        if k is not None and k in by_id:
            match[i] = right[by_id[k]]
            reached[by_id[k]] = True
        else:
            rest.append(i)
    if left_key is None:
        rest = list(range(len(left)))
    pending: list[int]
    if by_text and rest:
        col = _column(left, text)
        if left_normalized and len(rest) == len(col) and set(map(type, col)) <= {str}:
            norms = list(col)  # every row, each a normalized text: a copy in C
        else:  # (normalize_text of a normalized text is itself)
            norms = [normalize_text(col[i]) for i in rest]
        # normal form -> its first left row (reversed: the first wins); "" joins nothing
        at = dict(zip(reversed(norms), reversed(rest)))
        at.pop("", None)
        # left rows whose text an earlier left row holds: they share that row's fate
        twin_of = [(i, at[t]) for i, t in compress(zip(rest, norms), map(ne, map(at.get, norms), rest)) if t]
        li = _left_rows_of(_column(right, text), at)
        last = dict(zip(li, count()))  # left row -> its last right row
        last.pop(None, None)
        shared: dict[int, list[int]] = {}  # left row -> the right rows sharing its text
        if len(last) != len(li) - li.count(None):
            for j in compress(count(), map(ne, map(last.get, li), count())):
                if li[j] is not None:
                    shared[li[j]] = []
            for j in compress(count(), map(shared.__contains__, li)):
                shared[li[j]].append(j)
            for i in shared:
                del last[i]
        _deque(map(match.__setitem__, last.keys(), map(right.__getitem__, last.values())), maxlen=0)
        _deque(map(reached.__setitem__, last.values(), repeat(True)), maxlen=0)
        rep.by_text = len(last)
        firsts = dict(twin_of)
        held = sorted([*shared, *(i for i, first in twin_of if first in shared)])
        for i in held:  # a text several right rows share: reported, and the left row joins nothing
            first = firsts.get(i, i)
            same_text(norms[bisect_left(rest, first)], shared[first], i)  # rest ascends
        for i, first in twin_of:
            if first in last:
                match[i] = right[last[first]]
                rep.by_text += 1
        pending = list(compress(rest, map(is_, map(match.__getitem__, rest), repeat(None))))
        if held:
            in_held = set(held)
            pending = [i for i in pending if i not in in_held]
    else:
        pending = rest
    if containment and pending:
        right_norms = normalize_texts(_column(right, text), known=norms if by_text and rest else ())
        contains = ContainmentIndex(right_norms)
        col = _column(left, contain_in or text)
        found = []
        for i in pending:
            t = normalize_text(col[i])
            found.append(contains.find(t, widest=True) if t else [])
        for i, hits in zip(pending, found):
            if len(hits) > 1 and len({right_norms[j] for j in hits}) == 1:
                # right rows that share the text: ambiguous like an exact text match, never merged
                same_text(right_norms[hits[0]], hits, i)
            elif len(hits) == 1:
                match[i] = right[hits[0]]
                reached[hits[0]] = True
                rep.by_containment += 1
            elif len(hits) > 1:
                rep.ambiguous.append(
                    {
                        "side": "right",
                        "by": "containment",
                        "key": None,
                        "left": [i],
                        "right": hits,
                        "used": None,
                    }
                )
    for k, js in dup_ids.items():
        rep.ambiguous.append({"side": "right", "by": "id", "key": k, "left": [], "right": js, "used": js[0]})
    rep.ambiguous += ambiguous_text.values()
    in_ambiguous = {i for a in rep.ambiguous for i in a["left"]}
    rep.left_unmatched = [i for i in _nones(match) if i not in in_ambiguous]
    involved = {j for a in rep.ambiguous for j in a["right"]}
    rep.right_unmatched = [j for j in _where_not(reached) if j not in involved]
    return rep


ANCHOR = 32  # characters of a right text the automaton holds; the rest is confirmed in place


class ContainmentIndex:
    """The distinct normalized texts of a table, found inside other texts in one scan each."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.rows: dict[str, list[int]] = {}
        for j, t in enumerate(texts):
            if t:
                self.rows.setdefault(t, []).append(j)
        by_anchor: dict[str, list[str]] = {}
        for t in self.rows:
            by_anchor.setdefault(t[:ANCHOR], []).append(t)
        self._by_anchor = by_anchor
        try:
            import ahocorasick
        except ImportError:  # pure Python: a dict lookup per position and anchor length
            self._auto = None
            self._lengths = sorted({len(a) for a in by_anchor})
        else:
            auto = ahocorasick.Automaton()
            for a, ts in by_anchor.items():
                auto.add_word(a, (len(a), ts))
            if by_anchor:
                auto.make_automaton()
            self._auto = auto if by_anchor else None
            self._lengths = []

    def _hits(self, t: str) -> Iterable[tuple[int, list[str]]]:
        """(start, texts with that anchor) for every anchor occurrence in ``t``."""
        if self._auto is not None:
            for end, (n, ts) in self._auto.iter(t):
                yield end - n + 1, ts
            return
        get = self._by_anchor.get
        for n in self._lengths:
            for a in range(len(t) - n + 1):
                ts = get(t[a : a + n])
                if ts is not None:
                    yield a, ts

    def spans(self, t: str) -> dict[str, tuple[int, int]]:
        """Each indexed text found in ``t``, with the span of its first occurrence."""
        out: dict[str, tuple[int, int]] = {}
        for a, ts in self._hits(t):
            for cand in ts:
                if cand not in out and t.startswith(cand, a):
                    out[cand] = (a, a + len(cand))
        return out

    def find(self, t: str, *, widest: bool = False) -> list[int]:
        """The rows whose text occurs in ``t`` (ascending). ``widest``: when one found text holds
        every other found text, only its rows (a short problem inside a longer one is not a
        second candidate)."""
        found = self.spans(t)
        if widest and len(found) > 1:
            top = max(found, key=len)
            if all(o in top for o in found):
                found = {top: found[top]}
        return sorted(j for text in found for j in self.rows[text])


def contained_matches(
    left: Sequence[Row], right: Sequence[Row], *, text: str = "problem", widest: bool = False
) -> list[list[int]]:
    """For each left row, the right rows whose normalised text is contained in the left row's: a
    trainer's prompt may wrap the problem in an instruction. One pass over each text
    (:class:`ContainmentIndex`); only rows no other key joined reach it."""
    index = ContainmentIndex([normalize_text(r.get(text)) for r in right])
    out = []
    for lrow in left:
        t = normalize_text(lrow.get(text))
        out.append(index.find(t, widest=widest) if t else [])
    return out


def contained_matches_quadratic(
    left: Sequence[Row], right: Sequence[Row], *, text: str = "problem"
) -> list[list[int]]:
    """The former left x right containment test: the reference the index is tested and benchmarked
    against (``bench/bench_join.py``); never used by a command."""
    right_texts = [(j, normalize_text(r.get(text))) for j, r in enumerate(right)]
    right_texts = [(j, t) for j, t in right_texts if t]
    out = []
    for lrow in left:
        t = normalize_text(lrow.get(text))
        out.append([j for j, rt in right_texts if rt in t] if t else [])
    return out


def rejects(
    rep: JoinReport,
    left: Sequence[Row],
    right: Sequence[Row],
    *,
    left_table: str,
    right_table: str,
    left_reason: str | None = None,
    right_reason: str | None = None,
    id_of: Callable[[Row], Any] = lambda r: r.get("id"),
) -> list[dict[str, Any]]:
    """The unjoined rows of a join as rejects rows (``table``, ``id``, ``line``, ``reason``)."""
    out: list[dict[str, Any]] = []

    def row(table: str, r: Row, reason: str) -> dict[str, Any]:
        return {"table": table, "id": id_of(r), "line": r.get("_line"), "reason": reason}

    for i in rep.left_unmatched:
        out.append(row(left_table, left[i], left_reason or f"no {right_table} row with this id or text"))
    for j in rep.right_unmatched:
        out.append(row(right_table, right[j], right_reason or f"no {left_table} row with this id or text"))
    for a in rep.ambiguous:
        lines = ", ".join(str(right[j].get("_line", j + 1)) for j in a["right"])
        if a["used"] is not None:
            first = right[a["used"]]
            for j in a["right"][1:]:
                out.append(
                    row(
                        right_table,
                        right[j],
                        f"duplicate {right_table} row for id {a['key']} (line {first.get('_line')} is used)",
                    )
                )
        else:
            for i in a["left"]:
                out.append(
                    row(left_table, left[i], f"ambiguous: {a['by']} matches {right_table} lines {lines}")
                )
    return out


def count_line(name: str, rep: JoinReport, left_table: str, right_table: str) -> str:
    """One summary line of a join: counts only."""
    c = rep.counts()
    return (
        f"{name}: {c['joined']} joined, {c['left_unmatched']} {left_table} rows unmatched, "
        f"{c['right_unmatched']} {right_table} rows unmatched, {c['ambiguous']} ambiguous"
    )
