"""The one prime ranker (Polymath's "Synthetic Prime"): among accepted synthetic candidates, the broadest
skill spectrum (categories touched, then distinct skills); ties by higher solver agreement, then by a
pass rate closer to 0.5 (the most learnable under GRPO: 1-shot RLVR's π1 was solved about 44% of the
time), then by id ascending, so the prime never depends on the order candidates arrive in.

``synthesize --prime`` (Candidate objects) and ``select --rule prime`` (candidate table rows) both rank
here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import orjson

__all__ = [
    "prime_key",
    "rank_prime",
    "prime_reason",
    "pick_prime",
    "mark_prime",
    "select_prime",
    "candidate_to_row",
    "spectrum_of",
]

C = TypeVar("C")


def _get(c: Any, name: str) -> Any:
    return c.get(name) if isinstance(c, Mapping) else getattr(c, name, None)


def spectrum_of(c: Any) -> dict[str, int]:
    """A candidate's skill spectrum; Parquet/CSV candidate tables hold it as JSON text."""
    s = _get(c, "spectrum") or {}
    if isinstance(s, (str, bytes)):
        s = orjson.loads(s)
    return {k: int(v or 0) for k, v in s.items()}


def _facts(c: Any) -> tuple[int, int, float | None, float | None]:
    s = spectrum_of(c)
    return sum(1 for v in s.values() if v), sum(s.values()), _get(c, "agreement"), _get(c, "pass_rate")


def prime_key(c: Any) -> tuple[int, int, float, float, str]:
    """Smaller is better: (-categories, -skills, -agreement, |pass rate - 0.5|, id). A missing
    agreement or pass rate ranks below every measured one."""
    breadth, total, agree, pr = _facts(c)
    return (
        -breadth,
        -total,
        -(agree if agree is not None else -1.0),
        abs(pr - 0.5) if pr is not None else 1.0,
        str(_get(c, "id")),
    )


def rank_prime(cands: Sequence[C]) -> list[C]:
    """The accepted candidates, best first."""
    return sorted((c for c in cands if _get(c, "accepted")), key=prime_key)


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def prime_reason(ranked: Sequence[Any], i: int = 0) -> str:
    """Why ``ranked[i]`` sits where it does: its spectrum, and which key broke the tie with the next one."""
    best = ranked[i]
    b, t, a, pr = _facts(best)
    spec = ", ".join(f"{k} {v}" for k, v in spectrum_of(best).items() if v)
    why = f"{_get(best, 'id')}: broadest skill spectrum ({t} skills over {b} categories: {spec})"
    if i + 1 < len(ranked):
        nxt = ranked[i + 1]
        nb, nt, na, npr = _facts(nxt)
        key, nkey = prime_key(best), prime_key(nxt)
        other = _get(nxt, "id")
        if key[:2] != nkey[:2]:
            why += f"; next: {other} with {nt} skills over {nb} categories"
        elif key[2] != nkey[2]:
            why += f"; tied on spectrum with {other}, higher solver agreement ({_num(a)} vs {_num(na)})"
        elif key[3] != nkey[3]:
            why += (
                f"; tied on spectrum and agreement with {other}, pass rate {_num(pr)} closer to 0.5 "
                f"than {_num(npr)}"
            )
        else:
            why += f"; tied on spectrum, agreement and pass rate with {other}, broken by id"
    accepted = len(ranked)
    return why + f" (agreement {_num(a)}, pass rate {_num(pr)}, of {accepted} accepted)"


def pick_prime(cands: Sequence[C]) -> tuple[C | None, str]:
    """The prime among the accepted candidates, and a sentence saying why (``synthesize --prime``)."""
    ranked = rank_prime(cands)
    if not ranked:
        return None, "no accepted candidate to choose from"
    return ranked[0], prime_reason(ranked)


def mark_prime(cands: Sequence[Any]) -> tuple[Any | None, str]:
    """``synthesize --prime``: the prime Candidate gets ``meta["prime"]`` and ``meta["prime_reason"]``."""
    best, why = pick_prime(cands)
    if best is not None:
        best.meta["prime"] = True
        best.meta["prime_reason"] = why
    return best, why


def candidate_to_row(c: Mapping[str, Any]) -> dict[str, Any]:
    """A synthetic Candidate dict as a pool-like row (answer = the golden answer the solvers agreed on)."""
    spectrum = spectrum_of(c)
    skills = {
        "spectrum": spectrum,
        "total": sum(spectrum.values()),
        "breadth": sum(1 for v in spectrum.values() if v),
    }
    meta = {k: c.get(k) for k in ("generator", "style", "skills_requested", "generator_answer") if k in c}
    return {
        "id": str(c["id"]),
        "problem": c.get("problem"),
        "answer": c.get("golden_answer"),
        "source": f"synthetic:{c.get('generator') or 'unknown'}",
        "meta": meta,
        "scores": {"agreement": c.get("agreement"), "pass_rate": c.get("pass_rate")},
        "skills": skills,
        "accepted": bool(c.get("accepted")),
        "_line": c.get("_line"),
    }


def select_prime(
    candidates: Sequence[Mapping[str, Any]], k: int = 1
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``k`` best accepted candidates as selection rows (``select --rule prime``); also the
    rejected ones (id, reason) for the report."""
    from sample_forge.errors import InputError
    from sample_forge.selection.rules import selection_row

    rejected = [
        {"id": str(c["id"]), "reason": "not accepted by validation"}
        for c in candidates
        if not c.get("accepted")
    ]
    ranked = rank_prime(candidates)
    if not ranked:
        raise InputError(f"no accepted candidate among {len(candidates)} (run the validation first)")
    out = []
    for i, c in enumerate(ranked[:k]):
        reason = prime_reason(ranked, i)
        out.append(
            selection_row(candidate_to_row(c), "prime", reason if i == 0 else f"rank {i + 1}: {reason}")
        )
    return out, rejected
