"""What a forge run's result means, in words: what was chosen and with what confidence, how much signal
the pilot carried, how far synthesis got, the warnings, and what to do next. Read from the run
directory's files alone, so the terminal summary and the HTML report say the same thing, and so does
a report written later for an old run."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sample_forge.forge.rundir import RunDir

__all__ = ["run_outcome", "outcome_lines", "pick_confidence"]


def _json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # the report names a corrupt file itself; the summary just says less


def _rows(path: Path) -> list[dict[str, Any]]:
    from sample_forge.tables import read_rows

    return read_rows(path) if path.is_file() else []


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and v == v else None


def pick_confidence(
    row: Mapping[str, Any],
    score: Mapping[str, Any] | None,
    uncertainty: Mapping[str, Any],
    *,
    theta: float | None = None,
) -> str:
    """How sure the run is of one pick: a prime's solver agreement and pass rate; a natural pick's LIM
    with its interval (against the cutoff θ), its top-K share and π1 where it has them."""
    if row.get("rule") == "prime":
        sc = row.get("scores") or {}
        a, p = _f(sc.get("agreement")), _f(sc.get("pass_rate"))
        parts = [f"solver agreement {a:.2f}" if a is not None else "solver agreement not measured"]
        parts.append(f"pass rate {p:.2f}" if p is not None else "no pass rate (no target model)")
        return "synthetic prime: " + ", ".join(parts)
    s = dict(row.get("scores") or {}) | dict(score or {})
    lim, lo, hi = _f(s.get("lim")), _f(s.get("lim_lo")), _f(s.get("lim_hi"))
    if lim is None:
        return "no LIM score"
    text = f"LIM {lim:.3f}"
    if lo is not None and hi is not None:
        level = _f(uncertainty.get("interval_level"))
        text += (
            f", {level:.0%} interval {lo:.3f} to {hi:.3f}" if level else f", interval {lo:.3f} to {hi:.3f}"
        )
        if uncertainty.get("resamples"):
            text += f" ({uncertainty['resamples']} resamples)"
        if theta is not None and lo < theta <= hi:
            text += f"; the interval reaches below θ = {theta:g}, so it may not clear the cutoff"
    else:
        text += ", no interval (the score ran without resamples)"
    share = _f(s.get("top_share"))
    if share is not None:
        text += (
            f"; in the top {uncertainty.get('top_k')} by {uncertainty.get('by')} in {share:.0%} of resamples"
        )
    top = uncertainty.get("top") or []
    if top and str(top[0].get("id")) in (str(row.get("id")), str(s.get("log_id"))):
        p1 = _f(uncertainty.get("p_rank1"))
        if p1 is not None:
            text += f"; keeps rank 1 in {p1:.0%} of resamples (π1)"
    return text


def _synthesis(run: RunDir, recipe: Mapping[str, Any]) -> dict[str, Any] | None:
    if not (recipe.get("synthesize") or {}).get("enabled", run.candidates.exists()):
        return None
    if not run.candidates.exists() and not run.rejects.exists():
        return None
    cands = _rows(run.candidates)
    accepted = [c for c in cands if c.get("accepted", True)]
    rejects = [c for c in cands if not c.get("accepted", True)] + _rows(run.rejects)
    by_check = Counter()
    for r in rejects:
        failed = r.get("rejected_by") or [c.get("check") for c in r.get("checks") or [] if not c.get("keep")]
        by_check[failed[0] if failed else "unknown"] += 1
    reasons = Counter(str(r.get("reason") or "no reason given") for r in rejects)
    gen = len(accepted) + len(rejects)
    if accepted:
        text = f"{len(accepted)} of {gen} synthetic candidates passed validation"
    else:
        text = f"no synthetic candidate passed validation ({gen} generated)"
    if rejects:
        text += "; rejected by " + ", ".join(f"{c} ({n})" for c, n in by_check.most_common())
    return {
        "generated": gen,
        "accepted": len(accepted),
        "rejected_by": dict(by_check),
        "reasons": dict(reasons),
        "text": text,
        "models": sorted(
            {str(m) for k in ("generators", "solvers") for m in (recipe.get("synthesize") or {}).get(k) or []}
        ),
    }


def _pilot_text(pilot: Mapping[str, Any]) -> str:
    curve = pilot.get("mean_curve") or []
    text = ""
    if curve:
        text = "mean accuracy " + " → ".join(f"{v:.3f}" for v in curve[:8])
        if len(curve) > 8:
            text += f" … {curve[-1]:.3f}"
        text += f" over {len(curve)} epochs (rise {pilot.get('rise', 0):+.3f}); "
    share_n, share_a = _f(pilot.get("never_solved_share")), _f(pilot.get("always_solved_share"))
    text += f"never solved: {pilot.get('never_solved')}"
    if share_n is not None:
        text += f" ({share_n:.0%})"
    text += f", always solved: {pilot.get('always_solved')}"
    if share_a is not None:
        text += f" ({share_a:.0%})"
    return text


def _next_steps(
    weak: bool | None, demo_pilot: bool, synth: dict[str, Any] | None, chosen: Mapping[str, Any] | None
) -> list[str]:
    steps = []
    if weak:
        steps.append(
            "Run a pilot with the model you will train, on problems it solves some of the time "
            "(sample-forge pilot --pool POOL --model MODEL --epochs N), then point [score] trajectory at "
            "that run directory and forge again; choose from these scores only once the signal is ok."
        )
    elif demo_pilot:
        steps.append(
            "[score] trajectory = 'demo' is the embedded SmolLM2-135M pilot: for your own training, "
            "run a pilot with the model you will train (sample-forge pilot --model MODEL) and score that."
        )
    if synth is not None and not synth["accepted"]:
        models = ", ".join(synth["models"]) or "the default"
        steps.append(
            f"Point synthesis at a strong endpoint: set [synthesize] generators and solvers (now {models}) "
            "to a model of your models config, e.g. an OpenAI-compatible server "
            "(sample-forge models list; sample-forge synthesize --generators NAME --solvers NAME)."
        )
    if chosen:
        if weak:
            steps.append(
                f"The trainer command lines for {chosen['id']} are ready (Export; chosen.json), but "
                "with this signal training on it tests the pipeline, not the sample."
            )
        else:
            steps.append(
                f"Train on {chosen['id']} with the command below (every trainer's command is in "
                "chosen.json); train the runner-up next to compare."
            )
    return steps


def run_outcome(run_dir: str | Path) -> dict[str, Any]:
    """The run's result in words (plain JSON data: strings, numbers, lists of strings)."""
    run = RunDir(Path(run_dir))
    recipe = _json(run.recipe) or {}
    chosen = _json(run.chosen)
    selection = _rows(run.selection)
    report = _json(run.score_report) or {}
    pilot = report.get("pilot") or {}
    unc = report.get("uncertainty") or {}
    theta = _f((recipe.get("select") or {}).get("theta"))
    rule = (recipe.get("select") or {}).get("rule") or (chosen or {}).get("rule")
    scores = {str(r["id"]): r for r in _rows(run.scores) if "id" in r}
    weak = None if not pilot else pilot.get("signal") == "weak"
    demo_pilot = (recipe.get("score") or {}).get("trajectory") == "demo"

    picks = []
    for row in selection:
        sid = str(row.get("id"))
        picks.append(
            {
                "id": sid,
                "rule": row.get("rule"),
                "confidence": pick_confidence(row, scores.get(sid), unc, theta=theta),
            }
        )
    confidence = None
    if chosen:
        row = next((r for r in selection if str(r.get("id")) == str(chosen["id"])), chosen)
        confidence = pick_confidence(row, scores.get(str(chosen["id"])), unc, theta=theta)
        if weak:
            confidence = f"low: the pilot's signal is weak ({confidence})"
    synth = _synthesis(run, recipe)
    warnings = []
    if weak:
        warnings.append(str(pilot.get("warning") or "weak pilot signal"))
    if synth is not None and not synth["accepted"]:
        reasons = "; ".join(f"{r} ({n})" for r, n in Counter(synth["reasons"]).most_common(3))
        warnings.append(
            "no synthetic candidate passed validation, so there is no prime"
            + (f": {reasons}" if reasons else "")
        )
    if selection and not chosen:
        warnings.append("nothing was exported: no chosen sample (see the export stage)")
    if not selection and run.selection.exists():
        warnings.append("the selection is empty: no sample cleared the rule")
    return {
        "chosen": chosen,
        "rule": rule,
        "theta": theta,
        "n_chosen": len(selection),
        "picks": picks,
        "confidence": confidence,
        "signal": pilot.get("signal"),
        "pilot": _pilot_text(pilot) if pilot else None,
        "uncertainty": (
            f"{unc['interval_level']:.0%} intervals from {unc['resamples']} resamples of each cell's "
            "Beta posterior"
            if unc.get("resamples")
            else None
        ),
        "synthesis": synth,
        "warnings": warnings,
        "next": _next_steps(weak, demo_pilot, synth, chosen),
    }


def outcome_lines(outcome: Mapping[str, Any]) -> list[str]:
    """The outcome for the terminal: the pilot's signal, synthesis, confidence, warnings, next steps."""
    lines = []
    if outcome.get("pilot"):
        lines.append(f"pilot signal: {outcome['signal']}: {outcome['pilot']}")
    if outcome.get("synthesis"):
        lines.append(f"synthesis: {outcome['synthesis']['text']}")
    if outcome.get("confidence"):
        lines.append(f"confidence: {outcome['confidence']}")
    lines += [f"WARNING: {w}" for w in outcome.get("warnings") or []]
    steps: Sequence[str] = outcome.get("next") or []
    if steps:
        lines.append("next:")
        lines += [f"  - {s}" for s in steps]
    return lines
