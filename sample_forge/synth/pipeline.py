"""The synthesis pipeline: generate → parse → validate → write candidates and rejects → summary.

Cheap checks (form, decontamination, near-duplicates) run on every parsed candidate; the LLM checks
(joint solving, learnability) and skill tagging run only on candidates that are still in, so no money is
spent on a problem already rejected. Every LLM call goes through the LLM layer's cache: a killed run,
re-run with the same options, pays only for the calls that had not finished.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sample_forge.errors import SampleForgeError
from sample_forge.records import Candidate, CheckResult

__all__ = ["SynthConfig", "SynthRun", "synthesize", "summary_rows"]


@dataclass(frozen=True)
class SynthConfig:
    """Options of one synthesis run (the ``sample-forge synthesize`` flags)."""

    skills: tuple[str, ...] = ()
    n: int = 8
    generators: tuple[str, ...] = ("local",)
    style: str = "prime"
    domain: str = "physics"
    solvers: tuple[str, ...] = ("local",)
    k: int = 4
    min_agreement: float = 0.6
    target_model: str | None = None
    target_k: int = 8
    pass_band: tuple[float, float] = (0.2, 0.8)
    answer: str = "integer"
    gen_temperature: float = 1.0
    gen_max_tokens: int = 1024
    solve_temperature: float = 0.7
    solve_max_tokens: int = 2048
    tag_method: str = "embed"
    tag_model: str | None = None
    check_skills: bool = True
    near_dup_cosine: float = 0.95
    budget_usd: float | None = None
    budget_ledger: str | None = None  # a file of billed calls: the cap then holds across restarts
    cache: bool | str = True  # the LLM cache: True = default file, a path, or False (--no-cache)
    retry_failed: bool = False  # ask again for samples that ended at max_tokens with the same settings
    # run the solving and learnability checks on Ray: "local" (a local cluster), "auto" or an address;
    # None: in this process. Same results and cache either way (generation stays in this process).
    ray: str | None = None

    def __post_init__(self) -> None:
        if self.n < 1 or self.k < 1:
            raise SampleForgeError("--n and --k must be at least 1")
        if not 0 <= self.min_agreement <= 1:
            raise SampleForgeError(f"--min-agreement must be in [0, 1], got {self.min_agreement}")
        lo, hi = self.pass_band
        if not 0 <= lo <= hi <= 1:
            raise SampleForgeError(f"--pass-band must be lo,hi with 0 <= lo <= hi <= 1, got {lo},{hi}")
        if self.answer not in ("integer", "any"):
            raise SampleForgeError(f"--answer must be integer or any, got {self.answer}")


@dataclass
class SynthRun:
    candidates: list[Candidate]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> list[Candidate]:
        return [c for c in self.candidates if c.accepted]

    @property
    def rejected(self) -> list[Candidate]:
        return [c for c in self.candidates if not c.accepted]


def _run_id(cfg: SynthConfig) -> str:
    key = f"{cfg.style}|{cfg.domain}|{','.join(cfg.skills)}|{','.join(cfg.generators)}|{cfg.gen_temperature}"
    return hashlib.sha256(key.encode()).hexdigest()[:6]


def _usage(c: Candidate) -> dict[str, Any]:
    return c.meta.setdefault("usage", {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})


def synthesize(
    cfg: SynthConfig,
    *,
    index: Any = None,
    models: dict[str, Any] | None = None,
    checker: Any = None,
    tagger_model: Any = None,
    log: Callable[[str], None] | None = None,
) -> SynthRun:
    """Generate ``cfg.n`` candidates and validate them. ``index``: a DecontamIndex (None: no decontam
    check); ``models``: name -> Model (None: ``get_model`` each name with the shared budget)."""
    from sample_forge.llm import Budget, get_model

    budget = Budget(cfg.budget_usd, ledger=cfg.budget_ledger)
    models = dict(models or {})
    opened: list[Any] = []  # the models this call made: closed at the end (their loop threads, HTTP sessions)

    def model(name: str) -> Any:
        if name not in models:
            models[name] = get_model(
                None if name == "default" else name,
                budget=budget,
                cache=cfg.cache,
                retry_failed=cfg.retry_failed,
            )
            opened.append(models[name])
        return models[name]

    try:
        run = _synthesize(cfg, index, model, checker, tagger_model, budget, log)
        # requests answered 'length' from the failures table, in every stage (each model counts its own)
        run.summary["not_resent"] = sum(
            getattr(m, "not_resent_total", 0) for m in {id(m): m for m in models.values()}.values()
        )
        return run
    finally:
        for m in opened:
            m.close()


def _synthesize(
    cfg: SynthConfig,
    index: Any,
    model: Callable[[str], Any],
    checker: Any,
    tagger_model: Any,
    budget: Any,
    log: Callable[[str], None] | None,
) -> SynthRun:
    from sample_forge.answers import AnswerChecker
    from sample_forge.synth.checks import (
        DecontamCheck,
        FormCheck,
        FormConfig,
        JointSolveCheck,
        LearnabilityCheck,
        NearDupCheck,
        SkillsCheck,
        _record_usage,
    )
    from sample_forge.synth.generate import GenerationConfig, generation_requests
    from sample_forge.synth.parse import parse_generation

    say = log or (lambda _m: None)
    gen_cfg = GenerationConfig(
        style=cfg.style, domain=cfg.domain, temperature=cfg.gen_temperature, max_tokens=cfg.gen_max_tokens
    )
    structured = {g for g in dict.fromkeys(cfg.generators) if getattr(model(g), "supports_schema", False)}
    reqs = generation_requests(cfg.n, cfg.skills, cfg.generators, gen_cfg, structured)
    rid = _run_id(cfg)
    cands: list[Candidate] = []
    by_gen: dict[str, list[int]] = {}
    for i, (g, _) in enumerate(reqs):
        by_gen.setdefault(g, []).append(i)
    replies: dict[int, Any] = {}
    for g, idxs in by_gen.items():
        m = model(g)
        for i, res in zip(idxs, m.complete_many([reqs[i][1] for i in idxs])):
            replies[i] = (m, res)
    say(f"generated {cfg.n} candidates with {', '.join(by_gen)}")

    parsed_ok: list[Candidate] = []
    for i in range(cfg.n):
        m, res = replies[i]
        text = res.completions[0].text if res.completions else None
        cand = Candidate(
            id=f"syn-{rid}-{i:05d}",
            problem="",
            generator_answer=None,
            generator=m.name,
            style=cfg.style,
            skills_requested=list(cfg.skills),
            meta={"raw": text, "index": i},
        )
        _record_usage(cand, m, res.completions)
        if res.error and not res.completions:
            cand.checks.append(
                CheckResult(
                    "generate", False, f"generation failed: {res.error}", {"error_kind": res.error_kind}
                )
            )
        else:
            p = parse_generation(text)
            if p.ok:
                cand.problem, cand.generator_answer = p.problem or "", p.answer
                cand.checks.append(CheckResult("parse", True, "ok"))
                parsed_ok.append(cand)
            else:
                cand.problem = p.problem or ""
                cand.checks.append(CheckResult("parse", False, f"unparseable reply: {p.error}"))
        cands.append(cand)

    def stage(check: Any, items: list[Candidate]) -> list[Candidate]:
        if not items:
            return items
        results = check.check_many(items)
        for c, r in zip(items, results):
            c.checks.append(r)
        kept = [c for c, r in zip(items, results) if r.keep]
        say(f"{check.name}: {len(kept)} of {len(items)} kept")
        return kept

    solver = model
    if cfg.ray is not None:
        from sample_forge.scale.answers import RayAnswerChecker
        from sample_forge.scale.llm import ray_models

        names = [*cfg.solvers, *([cfg.target_model] if cfg.target_model else [])]
        on_ray = ray_models(cfg.ray, {n: model(n) for n in names})
        solver = on_ray.__getitem__
    own_checker = checker is None
    if checker is None:
        checker = RayAnswerChecker() if cfg.ray is not None else AnswerChecker()
    try:
        alive = stage(FormCheck(FormConfig(answer=cfg.answer), can_parse=_can_parse), parsed_ok)
        if index is not None:
            alive = stage(DecontamCheck(index, on_ray=cfg.ray is not None), alive)
        alive = stage(NearDupCheck(cosine=cfg.near_dup_cosine), alive)
        alive = stage(
            JointSolveCheck(
                [solver(s) for s in cfg.solvers],
                checker,
                k=cfg.k,
                min_agreement=cfg.min_agreement,
                temperature=cfg.solve_temperature,
                max_tokens=cfg.solve_max_tokens,
            ),
            alive,
        )
        if cfg.target_model:
            alive = stage(
                LearnabilityCheck(
                    solver(cfg.target_model),
                    checker,
                    k=cfg.target_k,
                    band=cfg.pass_band,
                    max_tokens=cfg.solve_max_tokens,
                ),
                alive,
            )
        if cfg.check_skills and alive:
            tm = (
                tagger_model
                if tagger_model is not None
                else (model(cfg.tag_model) if cfg.tag_model else None)
            )
            alive = stage(SkillsCheck(cfg.skills, method=cfg.tag_method, model=tm), alive)
    finally:
        if own_checker:
            checker.close()
    for c in alive:
        c.accepted = True
    run = SynthRun(cands)
    run.summary = _summary(run, budget)
    return run


def _can_parse(answer: str) -> bool:
    from sample_forge.answers import can_parse

    return can_parse(answer)


def _reason_kind(reason: str) -> str:
    """A reason without its values, so the summary counts kinds: "answer '9.9' is not an integer" →
    "answer '…' is not an integer"."""
    r = re.sub(r"'[^']*'", "'…'", reason.split(" (")[0])
    return re.sub(r"\d+(?:\.\d+)?", "#", r)[:80]


def _summary(run: SynthRun, budget: Any) -> dict[str, Any]:
    reasons: Counter[str] = Counter()
    for c in run.rejected:
        first = next(r for r in c.checks if not r.keep)
        reasons[f"{first.check}: {_reason_kind(first.reason)}"] += 1
    tokens = sum(_usage(c)["prompt_tokens"] + _usage(c)["completion_tokens"] for c in run.candidates)
    cost = sum(_usage(c)["cost_usd"] for c in run.candidates)
    acc = len(run.accepted)
    return {
        "generated": len(run.candidates),
        "rejected": dict(reasons),
        "accepted": acc,
        "tokens": tokens,
        "cost_usd": round(cost, 6),  # of the completions behind the candidates (cached ones too)
        # paid by this run, failed calls included ('length' answers are billed too)
        "spent_usd": round(budget.run_usd, 6) if budget is not None else None,
        # paid by earlier, killed or finished, runs with the same ledger (counted against the cap)
        "spent_earlier_usd": round(budget.earlier_usd, 6) if budget is not None else None,
        "tokens_per_accepted": round(tokens / acc, 1) if acc else None,
        "cost_per_accepted_usd": round(cost / acc, 6) if acc else None,
        "budget_exhausted": bool(budget is not None and budget.exhausted),
    }


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary as (label, value) rows for a table."""
    rows = [("generated", str(summary["generated"]))]
    rows += [(f"rejected: {k}", str(v)) for k, v in sorted(summary["rejected"].items())]
    rows += [
        ("accepted", str(summary["accepted"])),
        ("tokens (all calls)", str(summary["tokens"])),
        ("cost (USD)", f"{summary['cost_usd']:.4f}"),
        (
            "tokens per accepted",
            "n/a" if summary["tokens_per_accepted"] is None else str(summary["tokens_per_accepted"]),
        ),
        (
            "cost per accepted (USD)",
            "n/a" if summary["cost_per_accepted_usd"] is None else f"{summary['cost_per_accepted_usd']:.4f}",
        ),
    ]
    if summary.get("spent_usd"):
        rows.append(("paid by this run (USD)", f"{summary['spent_usd']:.4f}"))
    if summary.get("spent_earlier_usd"):
        rows.append(("paid by earlier runs (USD)", f"{summary['spent_earlier_usd']:.4f}"))
    if summary.get("budget_exhausted"):
        rows.append(("budget", "exhausted: later calls were not made"))
    if summary.get("not_resent"):
        from sample_forge.llm.base import not_resent_line

        rows.append(("not re-sent", not_resent_line(summary["not_resent"])))
    return rows


def write_outputs(run: SynthRun, out: str | os.PathLike[str], rejects: str | os.PathLike[str] | None) -> None:
    """Accepted candidates to ``out``; rejected ones (with every check result) to ``rejects``."""
    from sample_forge.tables import table_format, write_rows

    write_rows(out, (_row(c, table_format(out)) for c in run.accepted))
    if rejects is not None:
        write_rows(rejects, (_row(c, table_format(rejects)) for c in run.rejected))


def _row(c: Candidate, fmt: str = "jsonl") -> dict[str, Any]:
    d = c.to_dict()
    d["rejected_by"] = c.rejected_by
    d["reason"] = next((r.reason for r in c.checks if not r.keep), "accepted")
    if fmt in ("parquet", "csv"):  # check details differ per check: nested columns as JSON text
        import orjson

        for k in ("checks", "meta", "spectrum"):
            d[k] = orjson.dumps(d[k]).decode()
    return d
