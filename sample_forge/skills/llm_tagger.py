"""The paper's tagger: one LLM call per (problem, category) with the ``tag_skills`` prompt, answers
parsed strictly, free text mapped to catalog skills. A model with structured output is asked for
``{"skills": [...]}`` (``TAG_SCHEMA``); the others get the paper's tag format. Calls go through the LLM layer, so they are
cached in SQLite (a re-run or a resumed run pays only for what had not finished), run concurrently,
and a failed call is a recorded failure, never an exception."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sample_forge.records import Problem, SkillTag
from sample_forge.skills.canonical import Canonicalizer
from sample_forge.skills.parse import parse_answer
from sample_forge.skills.prompt import TAG_SCHEMA, tag_messages
from sample_forge.skills.spectrum import fill_spectrum
from sample_forge.subjects import CATEGORIES

if TYPE_CHECKING:
    from sample_forge.llm.base import ProgressBar

__all__ = ["LLMTagConfig", "LLMTagger"]


@dataclass(frozen=True)
class LLMTagConfig:
    """Sampling for the tagging calls: greedy by default so the tags are reproducible."""

    max_tokens: int = 256
    temperature: float = 0.0
    seed: int | None = 0
    categories: tuple[str, ...] = CATEGORIES


class LLMTagger:
    def __init__(
        self,
        model: Any,
        canonicalizer: Canonicalizer | None = None,
        config: LLMTagConfig = LLMTagConfig(),
        template: str | None = None,
    ) -> None:
        self.model = model
        self.canon = canonicalizer or Canonicalizer()
        self.config = config
        self.template = template

    def requests(self, problems: Sequence[Problem]) -> list[Any]:
        from sample_forge.llm import Request

        c = self.config
        structured = bool(getattr(self.model, "supports_schema", False))
        return [
            Request(
                tag_messages(cat, p.problem, template=self.template, json_only=structured),
                n=1,
                temperature=c.temperature,
                max_tokens=c.max_tokens,
                seed=c.seed,
                id=f"{p.id}\t{cat}",
                schema=TAG_SCHEMA if structured else None,
            )
            for p in problems
            for cat in c.categories
        ]

    def raw_answers(
        self,
        problems: Sequence[Problem],
        *,
        progress: ProgressBar | None = None,
        failures_path: str | Path | None = None,
    ) -> list[dict[str, Any]]:
        """One row per (problem, category): the answer text or the call's error."""
        reqs = self.requests(problems)
        results = self.model.complete_many(reqs, progress=progress, failures_path=failures_path)
        rows = []
        for req, res in zip(reqs, results):
            pid, cat = (req.id or "\t").split("\t", 1)
            text = res.completions[0].text if res.ok and res.completions else None
            rows.append(
                {
                    "id": pid,
                    "category": cat,
                    "text": text,
                    "error": None if res.ok else f"{res.error_kind or 'error'}: {res.error}",
                    "cached": bool(res.ok and res.completions and res.completions[0].cached),
                }
            )
        return rows

    def tag(
        self,
        problems: Sequence[Problem],
        *,
        progress: ProgressBar | None = None,
        failures_path: str | Path | None = None,
    ) -> list[SkillTag]:
        rows = self.raw_answers(problems, progress=progress, failures_path=failures_path)
        return self.tags_from_answers(problems, rows)

    def tags_from_answers(self, problems: Sequence[Problem], rows: list[dict[str, Any]]) -> list[SkillTag]:
        """Parse and canonicalize the rows of ``raw_answers``."""
        tags = {p.id: SkillTag(id=p.id, method="llm") for p in problems}
        for row in rows:
            tag = tags[row["id"]]
            if row["error"] is not None:
                tag.failures[row["category"]] = f"llm: {row['error']}"
                continue
            parsed = parse_answer(row["text"])
            if parsed.failure is not None:
                tag.failures[row["category"]] = f"parse: {parsed.failure}"
            else:
                tag.raw[row["category"]] = parsed.skills
        # embed every distinct free-text skill of the pool in one batch, then map per problem
        self.canon.vectors([s for t in tags.values() for v in t.raw.values() for s in v])
        for tag in tags.values():
            tag.canonical, _ = self.canon.canonicalize(tag.raw)
            fill_spectrum(tag)
        return list(tags.values())
