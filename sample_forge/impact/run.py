"""``score``: read a pilot run, build the accuracy matrix, score, rank, join to a pool."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge.adapter import IMPACT_SCORE_KEYS
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.impact import formats
from sample_forge.impact.detect import detect, files_of
from sample_forge.impact.epochs import EpochMatrix, build_matrix
from sample_forge.impact.formats.base import ReadOptions
from sample_forge.impact.longtable import SampleRegistry, Trajectory
from sample_forge.impact.rules import Rule, parse_rule
from sample_forge.impact.scores import SCORE_COLUMNS, compute_scores
from sample_forge.impact.uncertainty import (
    SignalConfig,
    UncertaintyConfig,
    diagnose,
    infer_rollouts,
    resample_scores,
)
from sample_forge.records import ImpactScore

__all__ = ["ScoreConfig", "ScoreResult", "read_trajectory", "score_run", "RANK_COLUMNS"]

# ``acc``/``score``/``reward`` all name the logged reward in a --correct rule
REWARD_NAMES = {"reward": "reward", "score": "reward", "acc": "reward"}
RANK_COLUMNS = ("lim", "hist_var", "learnability", "mean_acc", "first_acc", "last_acc", "n_epochs")


@dataclass(frozen=True)
class ScoreConfig:
    """How to read and score a pilot run (see ``sample-forge score --help``)."""

    format: str | None = None  # None: detect
    steps_per_epoch: int | None = None
    epoch_by: str = "auto"  # "auto" | "steps" | "pass"
    first_step: int | None = None
    missing: str = "limr"  # see epochs.MISSING_RULES
    correct: str | None = None  # None: the format's default rule
    by: str = "lim"
    ascending: bool = False
    threshold: str | None = None
    top: int | None = None
    skip_bad_lines: bool = False
    workers: int | None = None
    reward_column: str | None = None
    # error bars (impact/uncertainty.py); resamples = 0 turns them off
    resamples: int = 1000
    interval_level: float = 0.9
    seed: int = 0
    stability_top: int = 10
    rollouts_per_epoch: int | None = None  # logs of accuracies: rollouts behind each value (None: infer)
    signal: SignalConfig = SignalConfig()


@dataclass
class ScoreResult:
    rows: list[dict[str, Any]]  # ranked, filtered output rows
    scores: list[ImpactScore]  # every scored sample, ranked
    matrix: EpochMatrix
    trajectory_format: str
    report: dict[str, Any] = field(default_factory=dict)
    bad_lines: list[str] = field(default_factory=list)  # every line skipped by skip_bad_lines


def read_trajectory(path: Path, cfg: ScoreConfig, rule: Rule | None = None) -> Trajectory:
    path = Path(path)
    fmt = formats.get(cfg.format or detect(path))
    files = files_of(path, fmt.name)
    if not files:
        raise InputError(f"no {fmt.name} trajectory files", path=str(path))
    opts = ReadOptions(
        skip_bad_lines=cfg.skip_bad_lines, workers=cfg.workers, reward_column=cfg.reward_column, rule=rule
    )
    return fmt.read(files, opts)


def _rank(ids: list[str], values: np.ndarray, ascending: bool) -> np.ndarray:
    """Order of rows: by value (NaN last), ties by id, so the order never depends on input order."""
    v = np.where(np.isnan(values), np.inf, values if ascending else -values)
    return np.lexsort((np.asarray(ids, dtype=object).astype(str), v))


def score_run(path: Path, cfg: ScoreConfig = ScoreConfig(), *, pool: Path | None = None) -> ScoreResult:
    t0 = time.perf_counter()
    if cfg.by not in RANK_COLUMNS:
        raise SampleForgeError(f"--by: unknown score '{cfg.by}'; one of {', '.join(RANK_COLUMNS)}")
    user_rule = parse_rule(cfg.correct, REWARD_NAMES, option="--correct") if cfg.correct else None
    threshold = (
        parse_rule(cfg.threshold, set(SCORE_COLUMNS) | {"filled_epochs"}, option="--threshold")
        if cfg.threshold
        else None
    )
    traj = read_trajectory(path, cfg, user_rule)
    t_read = time.perf_counter()
    notes = list(traj.stats.notes)
    fmt = formats.get(traj.format)
    if traj.reward is not None:
        rule_text = cfg.correct or fmt.default_correct
        assert rule_text is not None, f"{fmt.name} logs rewards but has no default_correct"
        rule = user_rule or parse_rule(rule_text, REWARD_NAMES, option="--correct")
        correct = rule.apply({"reward": traj.reward})  # a boolean per rollout (build_matrix counts it)
        rollouts = None
        if traj.count is not None:  # a reader's tally: each entry stands for count rollouts
            rollouts = traj.count.astype(np.float64)
            correct = np.where(correct, rollouts, 0.0)
        correct_note = f"correct iff {rule.text}"
    else:
        assert traj.rollouts is not None and traj.correct is not None
        correct, rollouts = traj.correct, traj.rollouts
        applies = cfg.correct and fmt.takes_correct_rule
        correct_note = f"correct iff {cfg.correct}" if applies else f"{fmt.logged} as logged"
        if cfg.correct and not fmt.takes_correct_rule:
            notes.append(f"--correct ignored: {fmt.trainer} logs hold {fmt.logged}, not rewards")
    by_pass = cfg.epoch_by == "pass" or not traj.has_steps
    spe = cfg.steps_per_epoch
    use_epoch = traj.epoch is not None and not spe and cfg.epoch_by != "steps"
    if not by_pass and not use_epoch and not spe:
        if cfg.epoch_by == "steps":
            raise SampleForgeError("--epoch-by steps needs --steps-per-epoch N (LIMR: 8)")
        by_pass = True
        notes.append("no --steps-per-epoch: each time a sample is seen counts as one epoch")
    if spe and not traj.has_steps:
        notes.append(f"--steps-per-epoch ignored: {traj.format} logs have no step numbers")
    m = build_matrix(
        traj.registry.ids,
        traj.sample,
        traj.step,
        rollouts,
        correct,
        epoch=traj.epoch if use_epoch else None,
        steps_per_epoch=spe,
        first_step=cfg.first_step,
        by_pass=by_pass,
        missing=cfg.missing,
    )
    sc = compute_scores(m.acc, m.lim_epochs)
    order = _rank(m.ids, sc[cfg.by], cfg.ascending)
    counts_note = _counts(m, fmt.logged == "accuracies", cfg, notes)
    unc = None
    if cfg.resamples > 0 and len(m.ids) and m.rollouts is not None and m.correct is not None:
        t_unc = time.perf_counter()
        ucfg = UncertaintyConfig(
            resamples=cfg.resamples,
            interval_level=cfg.interval_level,
            seed=cfg.seed,
            stability_top=cfg.stability_top,
            workers=min(2, cfg.workers or 2),
        )
        unc = resample_scores(
            m.correct,
            m.rollouts,
            sc,
            order,
            lim_epochs=m.lim_epochs,
            by=cfg.by,
            ascending=cfg.ascending,
            cfg=ucfg,
        )
        unc.report["rollouts"] = counts_note
        for t in unc.report.get("top", []):
            t["id"] = m.ids[t.pop("row")]
        unc.report["seconds"] = round(time.perf_counter() - t_unc, 3)
    texts = dict(zip(traj.registry.ids, traj.registry.problems))  # the problems, not the template
    # columns as Python lists in ranking order (one tolist each, not a NumPy scalar per cell)
    col = {k: np.asarray(sc[k])[order].tolist() for k in SCORE_COLUMNS}
    filled = np.asarray(m.filled)[order].astype(int).tolist()
    ids = [m.ids[i] for i in order]
    scores = [
        ImpactScore(
            id=ids[k],
            lim=col["lim"][k],
            hist_var=col["hist_var"][k],
            learnability=col["learnability"][k],
            mean_acc=col["mean_acc"][k],
            first_acc=col["first_acc"][k],
            last_acc=col["last_acc"][k],
            n_epochs=int(col["n_epochs"][k]),
            rank=k + 1,
            filled_epochs=filled[k],
        )
        for k in range(len(ids))
    ]
    keep = np.ones(len(order), bool)
    if threshold is not None:
        cols = {k: v[order] for k, v in sc.items()} | {"filled_epochs": m.filled[order]}
        keep = threshold.apply(cols)
    selected = [s for s, k in zip(scores, keep) if k]
    if cfg.top is not None:
        selected = selected[: cfg.top]
    rows = [_row(s) for s in selected]
    report: dict[str, Any] = {
        "format": traj.format,
        "files": traj.stats.files,
        "bytes": traj.stats.bytes,
        "records": traj.records,
        "samples_seen": len(traj.registry),
        "samples_scored": len(scores),
        "rows_written": len(rows),
        "keyed_by": traj.registry.keyed_by,
        "correct": correct_note,
        "truncated_lines": traj.stats.truncated,
        "bad_lines_skipped": len(traj.stats.bad_lines),
        "bad_lines": traj.stats.bad_lines[:20],
        "dropped_ids": m.dropped[:50],
        "notes": notes,
        "by": cfg.by,
        "threshold": cfg.threshold,
        "mean_curve": np.nanmean(m.acc, axis=0).round(4).tolist() if len(m.acc) else [],
        **m.report,
    }
    report["pilot"] = diagnose(m.acc, m.rollouts, sc["lim"], lim_epochs=m.lim_epochs, cfg=cfg.signal)
    report["uncertainty"] = unc.report if unc is not None else {"resamples": 0}
    if pool is not None:
        report["join"] = join_pool(rows, Path(pool), registry=traj.registry)
        report["rows_written"] = len(rows)  # a pool's twin rows are each written
        report["notes"] += report["join"].pop("notes")
    if unc is not None:
        at = {s.id: int(i) for s, i in zip(scores, order)}
        # the join renames ids (a prompt-keyed log's sample keeps its id as log_id) and writes twins twice
        _add_intervals(rows, [at[r.get("log_id", r["id"])] for r in rows], unc)
    report["seconds_read"] = round(t_read - t0, 3)
    report["seconds_total"] = round(time.perf_counter() - t0, 3)
    res = ScoreResult(
        rows=rows,
        scores=scores,
        matrix=m,
        trajectory_format=traj.format,
        report=report,
        bad_lines=traj.stats.bad_lines,
    )
    res.report["texts"] = {s.id: texts.get(s.id) for s in scores[:10]}
    return res


def _counts(m: EpochMatrix, accuracies: bool, cfg: ScoreConfig, notes: list[str]) -> str:
    """Give a log of accuracies the rollouts behind each value (for the error bars); says which."""
    if m.rollouts is None or m.correct is None:
        return "none"
    if not accuracies:
        if cfg.rollouts_per_epoch:
            notes.append("--rollouts-per-epoch ignored: the log holds rollouts")
        return "as logged"
    valid = ~np.isnan(m.acc)
    if cfg.rollouts_per_epoch:
        n, how = cfg.rollouts_per_epoch, f"{cfg.rollouts_per_epoch} per value (--rollouts-per-epoch)"
    else:
        inferred = infer_rollouts(m.acc[valid])
        if inferred is None:
            notes.append(
                "the accuracies are not multiples of 1/n for any n ≤ 1024: no error bars; "
                "pass --rollouts-per-epoch N"
            )
            m.rollouts = m.correct = None
            return "unknown"
        n = inferred
        how = (
            f"{n} per value, inferred: every accuracy is a multiple of 1/{n} (--rollouts-per-epoch N to set)"
        )
        notes.append(f"rollouts behind each accuracy: {how}")
    m.rollouts = np.where(valid, float(n), np.nan)
    m.correct = np.where(valid, m.acc * n, np.nan)
    return how


def _add_intervals(rows: list[dict[str, Any]], row_of: list[int], unc: Any) -> None:
    """The interval and stability columns, after the scores (and the pool's fields)."""
    for r, i in zip(rows, row_of):
        vals: dict[str, Any] = {}
        for s in ("lim", "hist_var", "learnability"):
            vals[f"{s}_lo"] = float(unc.lo[s][i])
            vals[f"{s}_hi"] = float(unc.hi[s][i])
        share = unc.top_share[i]
        vals["top_share"] = None if np.isnan(share) else float(share)
        r.update({k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in vals.items()})


def _row(s: ImpactScore) -> dict[str, Any]:
    d = vars(s)  # scalar fields only: asdict's deep copy costs more than the scores themselves
    # NaN is the one value unequal to itself (np.isnan on a Python float costs a ufunc call)
    return {k: (None if d[k] != d[k] else d[k]) for k in ("id", *IMPACT_SCORE_KEYS)}


@dataclass
class PoolMatch:
    """Which pool rows each log sample joined (:func:`match_pool`): ``pool_of`` log sample id -> its
    pool row (None: none), ``shared`` log sample id -> the pool rows that share its problem text."""

    prows: list[dict[str, Any]]
    rep: Any  # join.JoinReport
    pool_of: dict[str, Any]
    shared: dict[str, list[Any]]
    seen: Any  # join.Columns: the log samples as the join's left table


def match_pool(pool: Path | list[dict[str, Any]], *, registry: SampleRegistry) -> PoolMatch:
    """The join of the log's samples to the pool, without touching the score rows: on id for
    id-keyed logs, else on the problem cut out of the prompt's template (an exact hash), then on
    containment in the whole prompt (one scan per prompt)."""
    from sample_forge.adapter import read_table
    from sample_forge.join import Columns, join

    prows = pool if isinstance(pool, list) else read_table(pool, need=("id",), default_id=False)
    seen = Columns({"id": registry.ids, "problem": registry.problems, "prompt": registry.texts})
    by_id = registry.keyed_by == "id"
    rep = join(
        seen,
        prows,
        left_key="id" if by_id else None,
        by_text=not by_id,
        containment=not by_id,
        contain_in="prompt",
        left_normalized=True,
    )
    sids = registry.ids
    pool_of: dict[str, Any] = dict(zip(sids, rep.match))
    shared: dict[str, list[Any]] = {}
    for a in rep.ambiguous:
        if a["by"] == "text":
            for i in a["left"]:
                shared[sids[i]] = [prows[j] for j in a["right"]]
    return PoolMatch(prows, rep, pool_of, shared, seen)


def join_pool(
    rows: list[dict[str, Any]],
    pool: Path | list[dict[str, Any]],
    *,
    registry: SampleRegistry,
    matched: PoolMatch | None = None,
) -> dict[str, Any]:
    """Add pool fields to ``rows`` in place through :func:`match_pool` (``matched``: its result, when
    already computed). An unknown id of an id-keyed log is an error. Pool rows are reached from every
    sample the log saw, so a pool row counts as unreached only when the run never trained on it.

    Pool rows that share a problem text cannot be told apart by a prompt-keyed log: the one log
    sample is written once per pool row, each flagged with ``dup_group`` (the group's other ids), and
    the group is named in ``notes``; nothing is merged silently."""
    from sample_forge.join import rejects

    pm = matched if matched is not None else match_pool(pool, registry=registry)
    prows, rep, pool_of, shared, seen = pm.prows, pm.rep, pm.pool_of, pm.shared, pm.seen
    by_id = registry.keyed_by == "id"
    # log sample id -> the pool ids that share its problem
    twins = {sid: [str(p["id"]) for p in members] for sid, members in shared.items()}
    sids = registry.ids
    if by_id:
        unknown = [r["id"] for r in rows if pool_of.get(r["id"]) is None]
        if unknown:
            raise InputError(
                f"{len(unknown)} sample ids of the log are not in the pool "
                f"(first: {', '.join(map(str, unknown[:5]))})",
                path=str(pool) if not isinstance(pool, list) else None,
                field="id",
            )
    unjoined: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    n_scored = len(rows)
    # the log samples written: their ids before the pool's replace them
    written = None if by_id else {r["id"] for r in rows}

    def merged(r: dict[str, Any], prow: Any, dup: str | None) -> dict[str, Any]:
        # the pool's fields after the row's own, which win (three merges in C, not a loop per key)
        x = {**r, **prow, **r}
        if "_line" not in r:
            x.pop("_line", None)
        if not by_id:
            x["log_id"] = r["id"]
        x["id"] = str(prow["id"])
        if twins:
            x["dup_group"] = dup
        return x

    for r in rows:
        prow = pool_of.get(r["id"])
        if prow is not None:
            out.append(merged(r, prow, None))
            continue
        members = shared.get(r["id"])
        if members is None:
            unjoined.append({"id": r["id"], "prompt": registry.texts[registry.index(r["id"])]})
            out.append(r)
            continue
        group = twins[r["id"]]
        for prow, pid in zip(members, group):
            out.append(merged(r, prow, ",".join(g for g in group if g != pid)))
    rows[:] = out
    if written is None:
        written = {r.get("log_id", r["id"]) for r in rows}
    out_rejects = [
        x
        for x in rejects(
            rep,
            seen,
            prows,
            left_table="scores",
            right_table="pool",
            left_reason="no pool row with this id or prompt text",
            right_reason="no sample of the log reached this pool row",
        )
        if x["table"] == "pool" or (x["id"] in written and x["id"] not in twins)
    ]
    ambiguous = [
        a
        for a in rep.ambiguous
        if a["by"] != "text" and (not a["left"] or any(sids[i] in written for i in a["left"]))
    ]
    in_ambiguous = {sids[i] for a in ambiguous for i in a["left"]}
    groups = [{"log_id": sid, "ids": ids} for sid, ids in twins.items() if sid in written]
    notes = []
    if groups:
        named = "; ".join(f"{' = '.join(g['ids'])} (log sample {g['log_id']})" for g in groups[:5])
        more = f" and {len(groups) - 5} more" if len(groups) > 5 else ""
        notes.append(
            f"{len(groups)} groups of pool rows share one problem text, so the log cannot tell them "
            f"apart: each row is written with the group's pooled rollouts and flagged in dup_group: "
            f"{named}{more}"
        )
    counts = {
        "joined": n_scored - len(unjoined),
        "left_unmatched": sum(u["id"] not in in_ambiguous for u in unjoined),
        "right_unmatched": len(rep.right_unmatched),
        "ambiguous": len(ambiguous),
    }
    return {
        **counts,
        "pool_rows_joined": len(rows) - len(unjoined),
        "dup_groups": groups,
        "notes": notes,
        "unjoined": unjoined,
        "rejects": out_rejects,
    }
