"""Validation checks of synthetic candidates, one small class each (datatrove style): every check
returns a :class:`~sample_forge.records.CheckResult` per candidate, keep or drop, with the reason.

Checks run over a batch (``check_many``) because the LLM checks send all their calls at once; the
simple ones implement ``check`` for one candidate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sample_forge.records import Candidate, CheckResult

__all__ = [
    "Check",
    "FormCheck",
    "JointSolveCheck",
    "LearnabilityCheck",
    "SkillsCheck",
    "DecontamCheck",
    "NearDupCheck",
    "parse_integer",
    "judge_agreement",
    "final_answer",
    "SOLVE_SCHEMA",
]


class Check:
    """Base: ``name`` and ``check_many``; subclasses implement ``check`` or ``check_many``."""

    name = "check"

    def check(self, cand: Candidate) -> CheckResult:
        raise NotImplementedError

    def check_many(self, cands: Sequence[Candidate]) -> list[CheckResult]:
        return [self.check(c) for c in cands]

    def _keep(self, reason: str, **details: Any) -> CheckResult:
        return CheckResult(self.name, True, reason, details)

    def _drop(self, reason: str, **details: Any) -> CheckResult:
        return CheckResult(self.name, False, reason, details)


# ---------------------------------------------------------------------------------------------
# 1. form

_INT = re.compile(r"^[+]?\d{1,3}(?:,\d{3})+$|^[+]?\d+(?:\.0+)?$")
_BLANK = re.compile(r"_{3,}|\\_\\_\\_|\\underline\{\\hspace|\\rule\{")
_PARTS = re.compile(r"(?:^|\s)\((?:a|b|c|i|ii|iii)\)\s", re.I)


def parse_integer(answer: str | None) -> int | None:
    """The integer an answer states (``42``, ``1,000``, ``42.0``), or None: no parsing of anything else."""
    if answer is None:
        return None
    a = answer.strip().strip("$").strip().replace("\\,", "").replace("{,}", ",")
    if not _INT.match(a):
        return None
    return int(float(a.replace(",", "").lstrip("+")))


def _num(answer: str) -> str:
    """A regex for the answer as a standalone token (not part of a longer number)."""
    n = parse_integer(answer)
    body = str(n) if n is not None else re.escape(answer.strip())
    return rf"(?<![\d.]){body}(?![\d]|\.\d)"


@dataclass(frozen=True)
class FormConfig:
    """Length bounds in characters; ``answer``: ``integer`` (``lo``..``hi``) or ``any`` (math-verify
    must parse it)."""

    min_chars: int = 40
    max_chars: int = 3000
    answer: str = "integer"
    lo: int = 1
    hi: int = 1000


class FormCheck(Check):
    """Length bounds, a single question, the answer not stated in the problem, the answer format."""

    name = "form"

    def __init__(
        self, config: FormConfig | None = None, *, can_parse: Callable[[str], bool] | None = None
    ) -> None:
        self.config = config or FormConfig()
        if self.config.answer not in ("integer", "any"):
            raise ValueError(f"answer must be 'integer' or 'any', got {self.config.answer!r}")
        self._can_parse = can_parse

    def check(self, cand: Candidate) -> CheckResult:
        c, p, a = self.config, cand.problem or "", cand.generator_answer
        if len(p) < c.min_chars:
            return self._drop(f"too short ({len(p)} < {c.min_chars} chars)")
        if len(p) > c.max_chars:
            return self._drop(f"too long ({len(p)} > {c.max_chars} chars)")
        blanks, questions = len(_BLANK.findall(p)), p.count("?")
        if blanks > 1 or questions > 1 or (blanks and questions) or len(_PARTS.findall(p)) > 1:
            return self._drop(f"more than one question ({blanks} blanks, {questions} question marks)")
        if a is None or not a.strip():
            return self._drop("no answer")
        leak = self._leak(p, a)
        if leak:
            return self._drop(f"answer stated in the problem ({leak})")
        if c.answer == "integer":
            n = parse_integer(a)
            if n is None:
                return self._drop(f"answer '{a}' is not an integer")
            if not c.lo <= n <= c.hi:
                return self._drop(f"answer {n} outside {c.lo}..{c.hi}")
        elif self._can_parse is not None and not self._can_parse(a):
            return self._drop(f"answer '{a}' cannot be parsed by math-verify")
        return self._keep("ok", chars=len(p))

    @staticmethod
    def _leak(problem: str, answer: str) -> str | None:
        if re.search(r"\\(?:boxed|fbox)\s*\{|<answer>", problem, re.I):
            return "contains \\boxed or <answer>"
        tok = _num(answer)
        if re.search(rf"\b(?:answers?|results?|solution)\b[^.?!\n]{{0,30}}?{tok}", problem, re.I):
            return "'answer … <value>'"
        if re.search(
            rf"\b(?:so|thus|therefore|hence|which gives|giving)\b[^.?!\n]{{0,40}}?{tok}", problem, re.I
        ):
            return "'so/thus … <value>'"
        return None


# ---------------------------------------------------------------------------------------------
# 2. joint solving


def _cluster(answers: list[str], same: Callable[[str, str], bool | None]) -> list[list[int]]:
    """Group answer indices by equivalence (union-find over distinct strings)."""
    distinct = list(dict.fromkeys(answers))
    parent = list(range(len(distinct)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(distinct)):
        for j in range(i + 1, len(distinct)):
            if find(i) != find(j) and same(distinct[i], distinct[j]):
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    pos = {s: k for k, s in enumerate(distinct)}
    for idx, a in enumerate(answers):
        groups.setdefault(find(pos[a]), []).append(idx)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def judge_agreement(
    generator_answer: str | None,
    answers: Sequence[str | None],
    equivalent: Callable[[Sequence[tuple[str, str]]], list[bool | None]],
    min_agreement: float,
) -> CheckResult:
    """The joint-solving verdict from the solvers' final answers (None: no answer from that sample).
    ``agreement`` = size of the largest group of equivalent answers / all samples; the golden answer is
    that group's most common spelling; it must reach ``min_agreement`` and equal the generator's answer.
    ``equivalent(pairs)`` is e.g. ``AnswerChecker.check_many`` (math-verify, gold first)."""
    name = JointSolveCheck.name
    total = len(answers)
    given = [a.strip() for a in answers if a is not None and a.strip()]
    if total == 0 or not given:
        return CheckResult(
            name,
            False,
            f"no final \\boxed answer in {total} solver samples",
            {"answers": list(answers), "agreement": 0.0},
        )
    distinct = list(dict.fromkeys(given))
    pairs = [(distinct[i], distinct[j]) for i in range(len(distinct)) for j in range(i + 1, len(distinct))]
    gen = (generator_answer or "").strip()
    pairs += [(d, gen) for d in distinct] if gen else []
    verdicts = dict(zip(pairs, equivalent(pairs))) if pairs else {}
    groups = _cluster(given, lambda x, y: x == y or verdicts.get((x, y)) or verdicts.get((y, x)))
    top = groups[0]
    golden = Counter(given[i] for i in top).most_common(1)[0][0]
    agreement = len(top) / total
    details = {
        "answers": list(answers),
        "agreement": round(agreement, 4),
        "golden": golden,
        "votes": len(top),
        "samples": total,
    }
    if agreement < min_agreement:
        return CheckResult(
            name,
            False,
            f"agreement {agreement:.2f} < {min_agreement:.2f} ({len(top)} of {total} on '{golden}')",
            details,
        )
    if not gen or not (golden == gen or verdicts.get((golden, gen))):
        return CheckResult(
            name,
            False,
            f"agreed answer '{golden}' ({len(top)} of {total}) differs from the generator's '{gen}'",
            details,
        )
    return CheckResult(name, True, f"agreement {agreement:.2f} on '{golden}' = generator's answer", details)


# A solver with structured output answers {"reasoning", "answer"}; bounded so it ends inside max_tokens.
# llama.cpp turns maxLength into repeated grammar rules and refuses (the server process dies, 0.3.36)
# above its repetition limit: 1500 failed, 900 parsed; every bound here stays <= 900.
SOLVE_SCHEMA = {
    "title": "solution",
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "maxLength": 900},
        "answer": {"type": "string", "minLength": 1, "maxLength": 64},
    },
    "required": ["reasoning", "answer"],
    "additionalProperties": False,
}
SOLVE_JSON_LINE = (
    'Reply with JSON only: {"reasoning": "your step-by-step reasoning", "answer": "the final answer"}.'
)


def _solve_messages(problem: str, json_only: bool = False) -> list[dict[str, Any]]:
    from sample_forge.synth.generate import render

    text = render("solve", problem=problem)
    if json_only:
        text = f"{text.rstrip()}\n\n{SOLVE_JSON_LINE}"
    return [{"role": "user", "content": text}]


def final_answer(text: str | None) -> str | None:
    """A solver's final answer: the ``answer`` of its JSON reply (unwrapped from ``\\boxed{}``/``$``),
    else the last ``\\boxed{}`` of free text."""
    from sample_forge.answers import extract_boxed
    from sample_forge.llm.schema import json_reply

    data = json_reply(text)
    if data is None:
        return extract_boxed(text) if text else None
    a = data.get("answer")
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        a = str(a)
    if not isinstance(a, str):
        return None
    a = extract_boxed(a) or a.strip().strip("$").strip()
    return a or None


def _sample(
    models: Sequence[Any], cands: Sequence[Candidate], k: int, temperature: float, max_tokens: int
) -> list[list[tuple[str, list[str | None], list[str]]]]:
    """For each candidate, per model: (model name, k final answers or None, errors). Samples a model
    did not return (failures, budget) count as no answer."""
    from sample_forge.llm import Request

    out: list[list[tuple[str, list[str | None], list[str]]]] = [[] for _ in cands]
    for m in models:
        js = bool(getattr(m, "supports_schema", False))
        reqs = [
            Request(
                _solve_messages(c.problem, js),
                n=k,
                temperature=temperature,
                max_tokens=max_tokens,
                id=c.id,
                schema=SOLVE_SCHEMA if js else None,
            )
            for c in cands
        ]
        for i, res in enumerate(m.complete_many(reqs)):
            answers: list[str | None] = [final_answer(comp.text) for comp in res.completions]
            answers += [None] * (k - len(answers))
            _record_usage(cands[i], m, res.completions)
            out[i].append((m.name, answers, [res.error] if res.error else []))
    return out


def _record_usage(cand: Candidate, model: Any, completions: Sequence[Any]) -> None:
    """Tokens and cost of the calls made for a candidate, kept on its record (the summary adds them up)."""
    from sample_forge.llm.budget import call_cost

    u = cand.meta.setdefault("usage", {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})
    for c in completions:
        u["prompt_tokens"] += c.prompt_tokens
        u["completion_tokens"] += c.completion_tokens
        u["cost_usd"] += call_cost(
            c.prompt_tokens, c.completion_tokens, model.config.price_in, model.config.price_out
        )


class JointSolveCheck(Check):
    """k samples from each solver model; final answers from their JSON or ``\\boxed{}``; math-verify groups them; the
    agreed answer becomes the golden answer when agreement ≥ ``min_agreement`` and it equals the
    generator's answer."""

    name = "joint_solve"

    def __init__(
        self,
        solvers: Sequence[Any],
        checker: Any,
        *,
        k: int = 4,
        min_agreement: float = 0.6,
        temperature: float = 0.7,
        max_tokens: int = 2048,
    ) -> None:
        if not solvers:
            raise ValueError("at least one solver model is needed")
        self.solvers, self.checker, self.k = list(solvers), checker, k
        self.min_agreement, self.temperature, self.max_tokens = min_agreement, temperature, max_tokens

    def check_many(self, cands: Sequence[Candidate]) -> list[CheckResult]:
        if not cands:
            return []
        sampled = _sample(self.solvers, cands, self.k, self.temperature, self.max_tokens)
        out = []
        for cand, per_model in zip(cands, sampled):
            answers = [a for _, ans, _ in per_model for a in ans]
            errors = [e for _, _, errs in per_model for e in errs]
            r = judge_agreement(cand.generator_answer, answers, self.checker.check_many, self.min_agreement)
            details = {**r.details, "per_solver": {n: ans for n, ans, _ in per_model}, "errors": errors}
            reason = r.reason
            if errors and not any(a is not None for a in answers):
                reason = f"solver calls failed: {errors[0]}"
            if r.keep:
                cand.golden_answer = r.details["golden"]
            cand.agreement = r.details.get("agreement")
            out.append(CheckResult(self.name, r.keep, reason, details))
        return out


# ---------------------------------------------------------------------------------------------
# 3. learnability


class LearnabilityCheck(Check):
    """The model to be trained solves the candidate ``k`` times; its pass rate against the golden answer
    must fall in ``band`` (a sample always solved or never solved teaches nothing under GRPO)."""

    name = "learnability"

    def __init__(
        self,
        target: Any,
        checker: Any,
        *,
        k: int = 8,
        band: tuple[float, float] = (0.2, 0.8),
        temperature: float = 1.0,
        max_tokens: int = 2048,
    ) -> None:
        lo, hi = band
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"pass band must satisfy 0 <= lo <= hi <= 1, got {band}")
        self.target, self.checker, self.k, self.band = target, checker, k, (lo, hi)
        self.temperature, self.max_tokens = temperature, max_tokens

    def check_many(self, cands: Sequence[Candidate]) -> list[CheckResult]:
        out: list[CheckResult | None] = [None] * len(cands)
        todo = []
        for i, c in enumerate(cands):
            if c.golden_answer is None:
                out[i] = self._drop("no golden answer to score against")
            else:
                todo.append(i)
        if todo:
            sampled = _sample(
                [self.target], [cands[i] for i in todo], self.k, self.temperature, self.max_tokens
            )
            pairs, spans = [], []
            for i, per_model in zip(todo, sampled):
                _, answers, errors = per_model[0]
                start = len(pairs)
                pairs += [(cands[i].golden_answer, a) for a in answers if a is not None]
                spans.append((i, start, len(pairs), answers, errors))
            verdicts = self.checker.check_many(pairs) if pairs else []
            lo, hi = self.band
            for i, s, e, answers, errors in spans:
                got = sum(1 for v in verdicts[s:e] if v)
                if errors and all(a is None for a in answers):
                    out[i] = self._drop(f"target model calls failed: {errors[0]}", errors=errors)
                    continue
                rate = got / self.k
                cands[i].pass_rate = rate
                d = {"pass_rate": rate, "correct": got, "samples": self.k, "answers": answers}
                out[i] = (
                    self._keep(f"pass rate {rate:.2f} in [{lo}, {hi}]", **d)
                    if lo <= rate <= hi
                    else self._drop(f"pass rate {rate:.2f} outside [{lo}, {hi}]", **d)
                )
        return out  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# 4. skills


class SkillsCheck(Check):
    """Tag the candidate with ``sample-forge tag``'s tagger; every requested skill (a catalog skill, or a
    category meaning "some skill of it") must be present. Records the spectrum on the candidate."""

    name = "skills"

    def __init__(self, required: Sequence[str], *, method: str = "embed", model: Any = None) -> None:
        self.required, self.method, self.model = list(required), method, model

    def check_many(self, cands: Sequence[Candidate]) -> list[CheckResult]:
        if not cands:
            return []
        from sample_forge.errors import SampleForgeError
        from sample_forge.records import Problem

        try:
            from sample_forge.skills import tag_problems
        except ImportError as e:  # the tagger is another stage; without it this check cannot decide
            raise SampleForgeError(
                f"the skills check needs sample_forge.skills.tag_problems ({e}); use --no-skills-check"
            ) from None

        probs = [
            Problem(id=c.id, problem=c.problem, answer=c.golden_answer or c.generator_answer) for c in cands
        ]
        tags = tag_problems(probs, method=self.method, model=self.model)
        out = []
        for cand, tag in zip(cands, tags):
            cand.spectrum = dict(tag.spectrum)
            present = {s.lower() for skills in tag.canonical.values() for s in skills}
            groups = {g.lower() for g, skills in tag.canonical.items() if skills}
            missing = [r for r in self.required if r.lower() not in present and r.lower() not in groups]
            d = {
                "canonical": tag.canonical,
                "spectrum": tag.spectrum,
                "total": tag.total,
                "breadth": tag.breadth,
                "method": tag.method,
                "failures": tag.failures,
            }
            if tag.failures and not tag.total:
                out.append(self._drop(f"tagging failed: {next(iter(tag.failures.values()))}", **d))
            elif missing:
                out.append(self._drop(f"requested skills not found: {', '.join(missing)}", **d))
            else:
                out.append(self._keep(f"{tag.total} skills in {tag.breadth} categories", **d))
        return out


# ---------------------------------------------------------------------------------------------
# 5. decontamination


class DecontamCheck(Check):
    """Drop a candidate flagged for any benchmark of the index (n-gram overlap or embedding cosine);
    ``on_ray``: the embeddings computed on the connected Ray cluster (the same flags)."""

    name = "decontam"

    def __init__(self, index: Any, *, on_ray: bool = False) -> None:
        self.index = index
        self.on_ray = on_ray

    def check_many(self, cands: Sequence[Candidate]) -> list[CheckResult]:
        from sample_forge.synth.decontam import closest_match

        if not cands:
            return []
        texts = [c.problem for c in cands]
        if self.on_ray:
            from sample_forge.scale.embeddings import check_on_ray

            found = check_on_ray(self.index, texts)
        else:
            found = self.index.check(texts)
        out = []
        for matches in found:
            flags = {m.benchmark: m.flagged for m in matches}
            best = closest_match(matches)
            d = {"flags": flags, "closest": best.to_dict() if best else None}
            hit = [m for m in matches if m.flagged]
            if hit:
                m = closest_match(hit)
                assert m is not None
                out.append(
                    self._drop(
                        f"contaminated: {', '.join(x.benchmark for x in hit)} (closest "
                        f"{m.benchmark}:{m.closest_id}, n-gram {m.ngram_overlap:.2f}, cosine "
                        f"{m.cosine if m.cosine is not None else 'n/a'})",
                        **d,
                    )
                )
            else:
                out.append(self._keep("clean", **d))
        return out


# ---------------------------------------------------------------------------------------------
# 6. near-duplicates among candidates


class NearDupCheck(Check):
    """Keep the first of a group of near-duplicate candidates: embedding cosine ≥ ``cosine`` or a share
    ≥ ``ngram_overlap`` of word 8-grams in common. ``seen`` are earlier candidates (a resumed run)."""

    name = "near_dup"

    def __init__(
        self, *, cosine: float = 0.95, ngram_overlap: float = 0.5, n: int = 8, seen: Sequence[Candidate] = ()
    ) -> None:
        self.cosine, self.ngram_overlap, self.n, self.seen = cosine, ngram_overlap, n, list(seen)

    def _grams(self, text: str) -> set[tuple[str, ...]]:
        from sample_forge.synth.decontam import normalize_words

        w = normalize_words(text)
        return {tuple(w[i : i + self.n]) for i in range(len(w) - self.n + 1)}

    def check_many(self, cands: Sequence[Candidate]) -> list[CheckResult]:
        from sample_forge.embed import embed
        from sample_forge.synth.decontam import DecontamConfig, first_words

        if not cands:
            return []
        pool = [*self.seen, *cands]
        emb = embed(first_words([c.problem for c in pool], DecontamConfig.max_words))
        grams = [self._grams(c.problem) for c in pool]
        kept: list[int] = list(range(len(self.seen)))
        out = []
        for i in range(len(self.seen), len(pool)):
            dup = None
            if kept:
                sims = emb[kept] @ emb[i]
                j = int(np.argmax(sims))
                for jj in kept:  # n-gram containment first: it is the stronger evidence
                    g1, g2 = grams[i], grams[jj]
                    if g1 and g2 and len(g1 & g2) / min(len(g1), len(g2)) >= self.ngram_overlap:
                        dup = (jj, f"shares {len(g1 & g2)} word {self.n}-grams")
                        break
                if dup is None and sims[j] >= self.cosine:
                    dup = (kept[j], f"cosine {sims[j]:.3f}")
            if dup is None:
                kept.append(i)
                out.append(self._keep("unique"))
            else:
                out.append(self._drop(f"near-duplicate of {pool[dup[0]].id} ({dup[1]})", of=pool[dup[0]].id))
        return out
