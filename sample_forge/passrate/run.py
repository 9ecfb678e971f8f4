"""Pass rate of a pool on the model to be trained: k samples per problem through the LLM layer (cached,
budgeted, missing samples asked again where a server ignores ``n``), each final answer checked with
math-verify against the pool's answer in a process pool, one ``id``-keyed row per problem.

The LLM calls of the next batch of problems run while the answers of the previous batch are checked,
so checking is off the critical path. Progress goes to a callback; the library never prints.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_forge.answers import AnswerChecker, extract_boxed
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.llm import Request, Result
from sample_forge.llm.budget import call_cost
from sample_forge.passrate.stats import beta_interval, learnability, pass_at_k
from sample_forge.records import Problem

__all__ = [
    "PassRateConfig",
    "PassRateResult",
    "Progress",
    "PoolRead",
    "RATE_COLUMNS",
    "read_pool",
    "pass_rates",
    "extract_answer",
]

#: the columns of a pass-rate row, in order (docs/vocabulary.md)
RATE_COLUMNS = (
    "id",
    "pass_rate",
    "pass_rate_lo",
    "pass_rate_hi",
    "pass_at_k",
    "learnability",
    "k",
    "n_correct",
    "mean_tokens",
    "unparsed",
    "truncated",
    "rank",
)


@dataclass(frozen=True)
class PassRateConfig:
    """The ``passrate`` command's settings. ``pass_at`` None = k; ``level`` is the Beta interval's mass;
    ``batch`` problems go to the LLM layer at once (None: twice the model's concurrency, at least 8)."""

    k: int = 16
    temperature: float = 1.0
    max_tokens: int = 1024
    template: str = "qwen-boxed"
    pass_at: int | None = None
    level: float = 0.9
    seed: int | None = 0
    check_timeout: float = 5.0
    batch: int | None = None

    def __post_init__(self) -> None:
        if self.k < 1:
            raise SampleForgeError("-k must be >= 1")
        if self.pass_at is not None and not 1 <= self.pass_at <= self.k:
            raise SampleForgeError(f"--pass-at must be in 1..k ({self.k}), got {self.pass_at}")
        if not 0 < self.level < 1:
            raise SampleForgeError(f"--level must be in (0, 1), got {self.level}")


@dataclass
class Progress:
    """What a progress callback sees: problems done of total, samples, new completion tokens, USD spent
    by this run, seconds since the start."""

    problems_done: int = 0
    problems_total: int = 0
    samples: int = 0
    calls: int = 0
    tokens: int = 0
    spent_usd: float = 0.0
    elapsed_s: float = 0.0

    @property
    def problems_per_s(self) -> float:
        return self.problems_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed_s if self.elapsed_s > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


@dataclass
class PoolRead:
    """Problems to sample, and the rows that cannot be (no answer), as rejects-file rows."""

    problems: list[Problem]
    rejects: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0


@dataclass
class PassRateResult:
    rows: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    report: dict[str, Any]


def read_pool(
    source: str | Path, *, mapping: dict[str, str] | None = None, checker: AnswerChecker | None = None
) -> PoolRead:
    """Load a pool for sampling. A row without an answer is a reject (not sampled); an answer
    math-verify cannot parse is an error naming the row (a pass rate against it would be 0 whatever the
    model writes)."""
    from sample_forge.pool import PoolStats, iter_pool

    stats = PoolStats()
    keep: list[Problem] = []
    lines: list[int | None] = []
    rejects: list[dict[str, Any]] = []
    is_file = Path(str(source)).exists()
    for p in iter_pool(source, mapping=mapping, stats=stats):
        line = stats.read if is_file else None  # rows so far = this row's line in a file
        if p.answer is None:
            rejects.append({"table": "pool", "id": p.id, "line": line, "reason": "no answer: not sampled"})
            continue
        keep.append(p)
        lines.append(line)
    own = checker is None
    chk = checker or AnswerChecker(timeout=5.0)
    try:
        ok = chk.can_parse_many([p.answer or "" for p in keep])
    finally:
        if own:
            chk.close()
    for p, line, good in zip(keep, lines, ok):
        if not good:
            raise InputError(
                f"math-verify cannot parse the answer {p.answer!r} (id {p.id}); fix it or leave the row out",
                path=str(source),
                line=line,
                field="answer",
            )
    return PoolRead(keep, rejects, stats.read)


_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)


def extract_answer(text: str | None) -> str | None:
    """The last ``\\boxed{}``; else the last ``<answer>…</answer>`` (the orz template asks for both)."""
    got = extract_boxed(text)
    if got is not None or not text:
        return got
    tags = _ANSWER_TAG.findall(text)
    inner = tags[-1].strip() if tags else ""
    return (extract_boxed(inner) or inner) or None


def _rate_row(pid: str, c: int, k: int, at: int, level: float, tokens: list[int], unparsed: int, cut: int):
    p = c / k
    lo, hi = beta_interval(c, k, level)
    return {
        "id": pid,
        "pass_rate": round(p, 6),
        "pass_rate_lo": round(lo, 6),
        "pass_rate_hi": round(hi, 6),
        "pass_at_k": round(pass_at_k(c, k, at), 6),
        "learnability": round(learnability(p), 6),
        "k": k,
        "n_correct": c,
        "mean_tokens": round(sum(tokens) / len(tokens), 2) if tokens else 0.0,
        "unparsed": unparsed,
        "truncated": cut,
    }


#: the pilot's own chat prompt (one worked exchange, then the problem with its instruction), so a pass
#: rate can be measured on exactly what ``sample-forge pilot`` trains on
PILOT_TEMPLATE = "pilot"


def _messages(template: Any, problem: str) -> list[dict[str, Any]]:
    if template is None:
        from sample_forge.pilot.reward import build_prompt

        return build_prompt(problem)
    return [{"role": "user", "content": template.apply(problem)}]


def pass_rates(
    problems: Sequence[Problem],
    model: Any,
    config: PassRateConfig = PassRateConfig(),
    *,
    checker: AnswerChecker | None = None,
    progress: ProgressCallback | None = None,
    failures_path: str | Path | None = None,
) -> PassRateResult:
    """Sample ``config.k`` answers per problem from ``model`` (a ``sample_forge.llm`` Model) and check
    them. Rows come in input order with ``rank`` by learnability (ties: input order). A problem whose
    samples could not all be had (http, budget, malformed) is not a row but a reject naming the failure;
    its samples that did arrive are cached, so a re-run pays only for the rest. Truncated samples
    (``finish_reason == "length"`` twice, which the layer does not cache) count as wrong."""
    from sample_forge.export.templates import load_template

    cfg = config
    template = None if cfg.template == PILOT_TEMPLATE else load_template(cfg.template)
    at = cfg.pass_at or cfg.k
    batch = cfg.batch or max(8, 2 * int(getattr(model, "concurrency", 4) or 4))
    own = checker is None
    chk = checker or AnswerChecker(timeout=cfg.check_timeout)
    t0 = time.perf_counter()
    state = Progress(problems_total=len(problems))
    rows: dict[int, dict[str, Any]] = {}
    rejects: list[dict[str, Any]] = []
    totals = {
        "samples": 0,
        "correct": 0,
        "unparsed": 0,
        "truncated": 0,
        "from_cache": 0,
        "called": 0,
        "checks": 0,
    }
    budget = getattr(model, "budget", None)
    spent0 = budget.run_usd if budget is not None else 0.0
    price = (getattr(model.config, "price_in", 0.0) or 0.0, getattr(model.config, "price_out", 0.0) or 0.0)
    est_spent = 0.0

    def spent() -> float:
        return (budget.run_usd - spent0) if budget is not None else est_spent

    def emit() -> None:
        state.elapsed_s = time.perf_counter() - t0
        state.spent_usd = spent()
        if progress is not None:
            progress(state)

    def on_calls(items: Iterable[Any], total: int | None = None, description: str = "") -> Iterable[Any]:
        for item in items:
            state.calls += 1
            emit()
            yield item

    def check(positions: list[int], results: list[Result]) -> None:
        pairs: list[tuple[str, str]] = []
        spans: list[tuple[int, int, int]] = []  # (pool position, first pair, no-answer count)
        for pos, res in zip(positions, results):
            first, missing_answer = len(pairs), 0
            for c in res.completions:
                pred = extract_answer(c.text)
                if pred is None:
                    missing_answer += 1
                else:
                    pairs.append((problems[pos].answer or "", pred))
            spans.append((pos, first, missing_answer))
        verdicts = chk.verdicts(pairs)
        totals["checks"] += len(pairs)
        for (pos, first, missing_answer), res in zip(spans, results):
            got = res.completions
            vs = verdicts[first : first + len(got) - missing_answer]
            cut = cfg.k - len(got) if res.error_kind == "length" else 0
            c = sum(1 for v in vs if v.equivalent)
            unparsed = missing_answer + sum(1 for v in vs if v.equivalent is None)
            # a truncated sample ran to max_tokens: that is its length
            tokens = [x.completion_tokens for x in got] + [cfg.max_tokens] * cut
            rows[pos] = _rate_row(problems[pos].id, c, cfg.k, at, cfg.level, tokens, unparsed, cut)
            totals["correct"] += c
            totals["unparsed"] += unparsed
            totals["truncated"] += cut

    pool_ex = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sample-forge-passrate-check")
    pending: concurrent.futures.Future[None] | None = None
    stopped: str | None = None
    try:
        for start in range(0, len(problems), batch):
            chunk = problems[start : start + batch]
            reqs = [
                Request(
                    _messages(template, p.problem),
                    n=cfg.k,
                    temperature=cfg.temperature,
                    max_tokens=cfg.max_tokens,
                    seed=cfg.seed,
                    id=p.id,
                )
                for p in chunk
            ]
            results = model.complete_many(reqs, progress=on_calls, failures_path=failures_path)
            summary = getattr(model, "last_summary", {}) or {}
            totals["from_cache"] += int(summary.get("from_cache", 0))
            totals["called"] += int(summary.get("called", 0))
            good: list[Result] = []
            positions: list[int] = []  # a failed problem leaves a gap, not a shift
            for off, res in enumerate(results):
                fresh = [c for c in res.completions if not c.cached]
                state.tokens += sum(c.completion_tokens for c in fresh)
                est_spent += sum(call_cost(c.prompt_tokens, c.completion_tokens, *price) for c in fresh)
                state.samples += len(res.completions)
                totals["samples"] += len(res.completions)
                if res.ok or res.error_kind == "length":
                    good.append(res)
                    positions.append(start + off)
                    continue
                rejects.append(
                    {
                        "table": "pool",
                        "id": chunk[off].id,
                        "line": None,
                        "reason": f"llm {res.error_kind}: {res.error} ({len(res.completions)} of {cfg.k} "
                        "samples cached; run again for the rest)",
                    }
                )
                if res.error_kind == "budget":
                    stopped = res.error
            if pending is not None:
                pending.result()
            pending = pool_ex.submit(check, positions, good)
            state.problems_done = min(len(problems), start + len(chunk))
            emit()
            if stopped:
                break
        if pending is not None:
            pending.result()
    finally:
        pool_ex.shutdown(wait=True)
        if own:
            chk.close()
    out = [rows[i] for i in sorted(rows)]
    order = sorted(range(len(out)), key=lambda i: -out[i]["learnability"])
    for r, i in enumerate(order, start=1):
        out[i]["rank"] = r
    emit()
    report = {
        "problems": len(problems),
        "rows": len(out),
        "failed": len(rejects),
        "k": cfg.k,
        "pass_at": at,
        "template": cfg.template if template is None else template.name,
        "temperature": cfg.temperature,
        "max_tokens": cfg.max_tokens,
        **totals,
        "tokens": state.tokens,
        "spent_usd": round(spent(), 6),
        "budget_stop": stopped,
        "seconds": round(state.elapsed_s, 3),
        "check_timeouts": chk.timeouts,
    }
    return PassRateResult(out, rejects, report)
