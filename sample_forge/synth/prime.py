"""Pick the prime sample among accepted candidates: the broadest skill spectrum (Polymath's "Synthetic
Prime"); ties broken by higher solver agreement, then by a pass rate closer to 0.5 (the most learnable
under GRPO: 1-shot RLVR's π1 was solved about 44% of the time)."""

from __future__ import annotations

from collections.abc import Sequence

from sample_forge.records import Candidate

__all__ = ["pick_prime", "spectrum_key"]


def spectrum_key(c: Candidate) -> tuple[int, int, float, float]:
    """(categories touched, distinct skills, agreement, -|pass rate - 0.5|): larger is better."""
    breadth = sum(1 for v in c.spectrum.values() if v)
    total = sum(c.spectrum.values())
    agreement = c.agreement if c.agreement is not None else 0.0
    closeness = -abs(c.pass_rate - 0.5) if c.pass_rate is not None else -1.0
    return breadth, total, agreement, closeness


def pick_prime(cands: Sequence[Candidate]) -> tuple[Candidate | None, str]:
    """The prime candidate among the accepted ones, and a sentence saying why."""
    pool = [c for c in cands if c.accepted]
    if not pool:
        return None, "no accepted candidate to choose from"
    ranked = sorted(pool, key=spectrum_key, reverse=True)
    best = ranked[0]
    b, t, a, _ = spectrum_key(best)
    pr = "n/a" if best.pass_rate is None else f"{best.pass_rate:.2f}"
    why = (
        f"{best.id}: broadest skill spectrum ({t} skills over {b} categories: "
        + ", ".join(f"{k} {v}" for k, v in best.spectrum.items() if v)
        + ")"
    )
    if len(ranked) > 1:
        nb, nt, na, nc = spectrum_key(ranked[1])
        if (nb, nt) == (b, t):
            if na != a:
                why += (
                    f"; tied on spectrum with {ranked[1].id}, higher solver agreement ({a:.2f} vs {na:.2f})"
                )
            else:
                other = "n/a" if ranked[1].pass_rate is None else f"{ranked[1].pass_rate:.2f}"
                why += (
                    f"; tied on spectrum and agreement with {ranked[1].id}, pass rate {pr} closer to 0.5 "
                    f"than {other}"
                )
        else:
            why += f"; next: {ranked[1].id} with {nt} skills over {nb} categories"
    return best, why + f" (agreement {a:.2f}, pass rate {pr}, of {len(pool)} accepted)"
