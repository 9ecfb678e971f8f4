"""``forge``: pool -> tag -> score -> (synthesize) -> select -> export as one resumable run.

Each stage writes its table into the run directory and a completion marker (``stages.py``); a
re-run skips every stage whose settings and inputs are unchanged, and the LLM cache makes even a
re-run stage pay only for calls that had not finished."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sample_forge.errors import InputError, SampleForgeError
from sample_forge.forge.recipe import Recipe, library_config
from sample_forge.forge.rundir import RunDir
from sample_forge.forge.stages import Stage, StageOutcome, run_stage
from sample_forge.forge.stages import missing_inputs as _missing_stage_inputs
from sample_forge.paths import resource_path
from sample_forge.tables import atomic_write, read_rows, write_rows

__all__ = ["plan", "forge", "ForgeResult", "missing_inputs"]

DEMO_PILOT = "data/demo/pilot"


@dataclasses.dataclass
class ForgeResult:
    run_dir: Path
    outcomes: list[StageOutcome]
    llm_calls: int  # LLM requests actually sent in this invocation (cache misses)
    chosen: dict[str, Any] | None = None  # chosen.json: THE sample to train on, and its command lines
    outcome: dict[str, Any] | None = None  # what the result means (forge/outcome.py)

    @property
    def ran(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.skipped]

    @property
    def skipped(self) -> list[str]:
        return [o.name for o in self.outcomes if o.skipped]


def _pool_source(recipe: Recipe) -> str:
    from sample_forge.pool import resolve_pool  # the resolver every command's --pool uses

    return resolve_pool(recipe.pool.source)


def _trajectory(recipe: Recipe) -> Path:
    t = recipe.score.trajectory
    return resource_path(DEMO_PILOT) if t == "demo" else Path(t)


def _source_inputs(source: str) -> list[Path]:
    """Local sources are fingerprinted by content; hub ids by name only (settings)."""
    return [] if source.startswith("hf:") else [Path(source)]


class _LLMCounter:
    """Counts the LLM requests a stage sent, from the cache's call log (cache hits are not calls)."""

    def __init__(self) -> None:
        self.calls = 0

    def measure(self, fn: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        def wrapped() -> dict[str, Any]:
            from sample_forge.llm import Cache, default_cache_path

            cache = Cache(default_cache_path())
            before = cache.stats()
            counts = fn()
            after = cache.stats()
            cache.close()
            sent = after["calls"] - before["calls"]
            self.calls += sent
            counts["llm_requests_sent"] = sent
            return counts

        return wrapped


def plan(recipe: Recipe, run_dir: str | Path | None = None) -> list[Stage]:
    """The stages of a run, in order, with their inputs, settings and outputs (``--dry-run``)."""
    return _stages(recipe, RunDir(Path(run_dir or recipe.run_dir)), _LLMCounter())


def missing_inputs(recipe: Recipe, stages: list[Stage]) -> list[tuple[str, str]]:
    """(stage, what is missing) for a dry run: stage inputs no earlier stage writes (the pool source,
    the trajectory) and the synthesize stage's ``against`` benchmarks that cannot be found."""
    out = [(name, str(p)) for name, p in _missing_stage_inputs(stages)]
    if recipe.synthesize.enabled:
        from sample_forge.synth.decontam import resolve_benchmarks

        for spec in recipe.synthesize.against:
            try:
                resolve_benchmarks([spec])
            except SampleForgeError as e:
                out.append(("synthesize", f"against {spec}: {e}"))
    return out


def _stages(r: Recipe, run: RunDir, counter: _LLMCounter) -> list[Stage]:
    source = _pool_source(r)
    stages: list[Stage] = []

    def pool_stage() -> dict[str, Any]:
        from sample_forge.pool import PoolStats, load_pool

        stats = PoolStats()
        problems = load_pool(
            source,
            mapping=r.pool.map or None,
            subjects=r.pool.subjects or None,
            levels=r.pool.levels or None,
            limit=r.pool.limit,
            seed=r.pool.seed,
            stats=stats,
        )
        if not problems:
            raise SampleForgeError(f"pool {source}: no problems after filters")
        write_rows(run.pool, [p.to_dict() for p in problems])
        return {
            "read": stats.read,
            "kept": stats.kept,
            "no_answer": stats.no_answer,
            "dropped": dict(stats.dropped),
        }

    stages.append(Stage("pool", _source_inputs(source), dataclasses.asdict(r.pool), [run.pool], pool_stage))

    if r.tag.enabled:

        def tag_stage() -> dict[str, Any]:
            from sample_forge.skills import tag_problems

            model: Any = r.tag.model
            if r.tag.ray is not None:
                from sample_forge.llm import get_model
                from sample_forge.scale.llm import ray_models

                _connect_ray(r)
                model = ray_models(r.tag.ray, {"tag": get_model(r.tag.model)})["tag"]
            try:
                tags = tag_problems(read_rows(run.pool), method=r.tag.method, model=model)
            finally:
                if r.tag.ray is not None:
                    model.close()
            write_rows(run.tags, [t.to_dict() for t in tags])
            return {
                "tagged": len(tags),
                "failures": sum(1 for t in tags if t.failures),
                "mean_breadth": round(sum(t.breadth for t in tags) / max(1, len(tags)), 3),
            }

        stages.append(Stage("tag", [run.pool], _marker_settings(r.tag), [run.tags], tag_stage))

    traj = _trajectory(r)

    def score_stage() -> dict[str, Any]:
        import numpy as np

        from sample_forge.impact import ScoreConfig, score_run
        from sample_forge.impact.score_report import write_scores

        res = score_run(traj, library_config(r.score, ScoreConfig), pool=run.pool)
        write_scores(run.scores, res.rows, res.report)  # the table and scores.report.json, as `score -o`
        m = res.matrix
        mean = np.nanmean(m.acc, axis=0) if len(m.acc) else np.zeros(0)

        def cells(row: Any) -> list[float | None]:
            return [None if v != v else float(v) for v in row]

        # the rollouts behind each accuracy give the report its per-epoch intervals
        n = m.rollouts if m.rollouts is not None else [None] * len(m.ids)
        curves = [
            {"id": i, "acc": cells(row)} | ({"rollouts": cells(k)} if k is not None else {})
            for i, row, k in zip(m.ids, m.acc, n)
        ]
        curves.append({"id": "__mean__", "acc": [float(v) for v in mean]})
        write_rows(run.curves, curves)
        rep = res.report
        pilot = rep.get("pilot") or {}
        return {
            "format": res.trajectory_format,
            "samples_scored": rep.get("samples_scored"),
            "dropped_incomplete": len(m.dropped),
            "filled": int(sum(m.filled)),
            "signal": pilot.get("signal"),
            "never_solved": pilot.get("never_solved"),
            "always_solved": pilot.get("always_solved"),
            "notes": rep.get("notes", []),
        }

    stages.append(
        Stage(
            "score",
            [traj, run.pool],
            dataclasses.asdict(r.score),
            [run.scores, run.score_report, run.curves],
            score_stage,
        )
    )

    if r.synthesize.enabled:

        def synth_stage() -> dict[str, Any]:
            from sample_forge.synth.decontam import (
                Benchmark,
                DecontamIndex,
                load_benchmark,
                resolve_benchmarks,
            )
            from sample_forge.synth.pipeline import SynthConfig, synthesize, write_outputs

            s = r.synthesize
            pool_rows = read_rows(run.pool)
            benches = [
                Benchmark(
                    name="pool",
                    texts=[p["problem"] for p in pool_rows],
                    ids=[str(p["id"]) for p in pool_rows],
                    source=str(run.pool),
                )
            ]
            benches += [load_benchmark(spec) for spec in resolve_benchmarks(s.against)]
            index = DecontamIndex.build(benches)
            cfg = dataclasses.replace(
                library_config(s, SynthConfig),
                budget_ledger=str(Path(run.candidates).with_name("synthesize.spent.jsonl")),
            )
            if s.ray is not None:
                _connect_ray(r)
            result = synthesize(cfg, index=index)
            write_outputs(result, run.candidates, run.rejects)
            summary = result.summary
            return {
                k: summary.get(k)
                for k in ("generated", "accepted", "rejected", "tokens", "cost_usd", "budget_exhausted")
            }

        stages.append(
            Stage(
                "synthesize",
                [run.pool],
                _marker_settings(r.synthesize),
                [run.candidates, run.rejects],
                counter.measure(synth_stage),
            )
        )

    def select_stage() -> dict[str, Any]:
        from sample_forge.selection import select

        sel = select(
            r.select,
            pool=run.pool,
            scores=run.scores,
            skills=run.tags if r.tag.enabled else None,
        )
        rows = list(sel.rows)
        n_prime = 0
        notes = []
        if r.synthesize.enabled and run.candidates.exists():
            if read_rows(run.candidates):
                prime = select("prime", candidates=run.candidates)
                rows += prime.rows
                n_prime = len(prime.rows)
            else:
                notes.append(
                    "no synthetic candidate passed validation: no prime sample "
                    f"(reasons in {run.rejects.name})"
                )
        write_rows(run.selection, rows)
        return {
            "chosen": len(rows),
            "prime": n_prime,
            "unjoined": len(sel.unjoined),
            "ids": [str(x["id"]) for x in rows],
            "notes": notes,
        }

    sel_inputs = (
        [run.pool, run.scores, run.score_report]
        + ([run.tags] if r.tag.enabled else [])
        + ([run.candidates] if r.synthesize.enabled else [])
    )
    stages.append(Stage("select", sel_inputs, dataclasses.asdict(r.select), [run.selection], select_stage))

    def export_stage() -> dict[str, Any]:
        from sample_forge.export import export
        from sample_forge.forge.chosen import chosen_record, write_chosen

        rows = read_rows(run.selection)
        if not rows:
            raise SampleForgeError(
                "the selection is empty: nothing to export (lower [select] theta or check the scores)"
            )
        # runs of an earlier selection must not sit next to this one's
        shutil.rmtree(run.export_dir, ignore_errors=True)
        res = export(run.selection, run.export_dir, r.export, command="sample-forge forge")
        chosen = chosen_record(
            rows, r.select.rule, read_rows(res.index), str(run.export_dir.relative_to(run.root))
        )
        write_chosen(run.chosen, chosen)
        return {
            "runs": len(res.runs),
            "rows_per_run": sorted({n for x in res.runs for n in x.rows.values()}),
            "chosen": chosen["id"],
            "files": {x.name: {k: [str(p) for p in v] for k, v in x.files.items()} for x in res.runs},
            "notes": res.notes,
        }

    from sample_forge.export.trainers import TRAINERS

    unknown = [t for t in r.export.to if t not in TRAINERS]
    if unknown:  # found when the run is planned, not after the paid stages before export
        raise InputError(
            f"{', '.join(unknown)}: not a trainer; one of {', '.join(TRAINERS)}", field="export.to"
        )
    stages.append(
        Stage(
            "export",
            [run.selection],
            dataclasses.asdict(r.export) | {"select_rule": r.select.rule},
            [run.runs_index, run.chosen],
            export_stage,
        )
    )
    return stages


def _marker_settings(step: Any) -> dict[str, Any]:
    """A recipe section as its stage's marker records it: where the stage runs (``ray``) does not
    change what it writes, so a run moved onto Ray is not stale."""
    return {k: v for k, v in dataclasses.asdict(step).items() if k != "ray"}


def _connect_ray(r: Recipe) -> None:
    """Join the recipe's Ray cluster once, with the API keys of every stage that runs on it: a job's
    environment is fixed when it connects, so a later stage's key could not reach the workers."""
    from sample_forge.llm.config import resolve_config
    from sample_forge.scale.llm import key_env
    from sample_forge.scale.ray_data import connect

    on_ray: list[tuple[str, list[str]]] = []
    if r.tag.enabled and r.tag.ray is not None:
        on_ray.append((r.tag.ray, [r.tag.model]))
    s = r.synthesize
    if s.enabled and s.ray is not None:
        on_ray.append((s.ray, [*s.solvers, *([s.target_model] if s.target_model else [])]))
    env: dict[str, str] = {}
    for name in {n for _, names in on_ray for n in names}:
        env.update(key_env(resolve_config(name)))  # the config only: no model, no cache opened
    connect(on_ray[0][0], env_vars=env)


def forge(
    recipe: Recipe,
    run_dir: str | Path | None = None,
    *,
    force: bool = False,
    report: bool = True,
    on_stage: Callable[[StageOutcome], None] | None = None,
    on_stage_start: Callable[[Stage], None] | None = None,
) -> ForgeResult:
    """``on_stage_start`` is told when a stage starts running (not when it is skipped), ``on_stage``
    when each stage ends (``StageOutcome.seconds``: its wall time)."""
    run = RunDir(Path(run_dir or recipe.run_dir))
    run.root.mkdir(parents=True, exist_ok=True)
    with atomic_write(run.recipe, "w") as f:
        json.dump(recipe.to_dict() | {"run_dir": str(run.root)}, f, indent=2)
    counter = _LLMCounter()
    stages = _stages(recipe, run, counter)
    outcomes = []
    for st in stages:
        out = run_stage(st, run.markers, force=force, on_start=on_stage_start)
        outcomes.append(out)
        if on_stage:
            on_stage(out)
    if report:
        from sample_forge.report import build_report

        build_report(run.root, threshold=recipe.select.theta)
    from sample_forge.forge.outcome import run_outcome

    chosen = json.loads(run.chosen.read_text()) if run.chosen.exists() else None
    return ForgeResult(run.root, outcomes, counter.calls, chosen, run_outcome(run.root))
