"""Offline tagger: cosine similarity between a problem (+ solution) and the catalog skill texts.

Per category g, the category score is the mean of the ``category_top`` best skill similarities; the
category is touched when that score reaches the calibrated threshold t_g, and then its ``top_k`` best
skills with similarity >= t_g are the problem's skills in g. Cross-domain entries are kept one by one
when their similarity reaches t_Cross-domain. The per-category thresholds also make scores comparable
across categories: the problem's *top category* has the largest score minus t_g, and its best skill
is the problem's top skill."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge.errors import InputError
from sample_forge.records import Problem, SkillTag
from sample_forge.skills.catalog import CROSS_DOMAIN, GROUPS, Catalog, load_catalog
from sample_forge.skills.spectrum import fill_spectrum
from sample_forge.subjects import CATEGORIES

__all__ = ["EmbedConfig", "EmbedTagger", "Thresholds", "load_thresholds", "problem_text"]

_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)


@dataclass(frozen=True)
class Thresholds:
    """Similarity thresholds per group (five categories + Cross-domain) and how they were made."""

    values: dict[str, float]
    category_top: int = 3
    source: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": self.values,
            "category_top": self.category_top,
            "source": self.source,
            "metrics": self.metrics,
        }


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """A thresholds JSON written by ``sample-forge tag calibrate`` (default: the shipped
    ``data/skill_thresholds.json``)."""
    if path is None:
        from sample_forge.paths import resource_path

        path = resource_path("data/skill_thresholds.json")
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such thresholds file", path=str(p)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON ({e})", path=str(p)) from None
    vals = doc.get("thresholds") if isinstance(doc, dict) else None
    if not isinstance(vals, dict):
        raise InputError("expected an object with 'thresholds'", path=str(p), field="thresholds")
    missing = [g for g in GROUPS if g not in vals]
    if missing:
        raise InputError(f"missing groups {missing}", path=str(p), field="thresholds")
    try:
        values = {g: float(vals[g]) for g in GROUPS}
    except (TypeError, ValueError):
        raise InputError("thresholds must be numbers", path=str(p), field="thresholds") from None
    return Thresholds(
        values, int(doc.get("category_top", 3)), str(doc.get("source", "")), dict(doc.get("metrics") or {})
    )


@dataclass(frozen=True)
class EmbedConfig:
    """``top_k``: at most this many skills per category; ``use_solution``: embed problem + solution;
    ``max_tokens``: MiniLM input length (128 keeps 12,500 problems within minutes on a laptop CPU);
    ``batch_size``: encode batch size."""

    top_k: int = 3
    use_solution: bool = True
    max_tokens: int = 128
    batch_size: int = 64


def problem_text(p: Problem, use_solution: bool = True) -> str:
    """What is embedded: Asymptote code is dropped (drawing commands, not content)."""
    text = p.problem
    if use_solution and p.solution:
        text = f"{text}\n{p.solution}"
    return _ASY.sub(" [figure] ", text).strip()


class EmbedTagger:
    def __init__(
        self,
        catalog: Catalog | None = None,
        thresholds: Thresholds | None = None,
        config: EmbedConfig = EmbedConfig(),
    ) -> None:
        self.catalog = catalog or load_catalog()
        self.thresholds = thresholds or load_thresholds()
        self.config = config
        self._vecs = self.catalog.embeddings()
        self._groups = np.array([s.group for s in self.catalog.skills])
        self._t = np.array([self.thresholds.values[g] for g in self._groups], dtype=np.float32)

    def embed_problems(self, problems: Sequence[Problem]) -> np.ndarray:
        from sample_forge.embed import embed

        texts = [problem_text(p, self.config.use_solution) for p in problems]
        return embed(texts, batch_size=self.config.batch_size, max_tokens=self.config.max_tokens)

    def similarities(self, problems: Sequence[Problem]) -> np.ndarray:
        """(n problems, n catalog skills) cosine similarities."""
        return self.embed_problems(problems) @ self._vecs.T

    def category_margins(self, sims: np.ndarray) -> np.ndarray:
        """(n, 5): category score minus its threshold; >= 0 means the category is touched."""
        m = self.thresholds.category_top
        cols = []
        for c in CATEGORIES:
            s = np.sort(sims[:, self._groups == c], axis=1)[:, -m:]
            cols.append(s.mean(axis=1) - self.thresholds.values[c])
        return np.stack(cols, axis=1)

    def top_skills(self, sims: np.ndarray) -> list[str]:
        """The best skill of each problem's top category (largest category score minus threshold)."""
        top = self.category_margins(sims).argmax(axis=1)
        out = []
        for row, j in enumerate(top):
            idx = np.flatnonzero(self._groups == CATEGORIES[j])
            out.append(self.catalog.skills[idx[np.argmax(sims[row, idx])]].name)
        return out

    def tags_from_similarities(self, ids: Sequence[str], sims: np.ndarray) -> list[SkillTag]:
        k = self.config.top_k
        margins = self.category_margins(sims)
        out = []
        for row, pid in enumerate(ids):
            canonical: dict[str, list[str]] = {}
            for j, c in enumerate(CATEGORIES):
                if margins[row, j] < 0:
                    continue
                canonical[c] = self._pick(sims[row], c, k)
            cross = self._pick(sims[row], CROSS_DOMAIN, k)
            if cross:
                canonical[CROSS_DOMAIN] = cross
            out.append(fill_spectrum(SkillTag(id=pid, method="embed", canonical=canonical)))
        return out

    def _pick(self, sims: np.ndarray, group: str, k: int) -> list[str]:
        idx = np.flatnonzero(self._groups == group)
        best = idx[np.argsort(-sims[idx])[:k]]
        return [self.catalog.skills[i].name for i in best if sims[i] >= self._t[i]]

    def tag(self, problems: Sequence[Problem], *, chunk: int = 1024, progress: Any = None) -> list[SkillTag]:
        """Tag in chunks (memory stays flat on large pools); ``progress(n_done)`` after each chunk."""
        out: list[SkillTag] = []
        for start in range(0, len(problems), chunk):
            part = problems[start : start + chunk]
            out.extend(self.tags_from_similarities([p.id for p in part], self.similarities(part)))
            if progress is not None:
                progress(len(part))
        return out

    def explain(self, problem: Problem, top: int = 5) -> dict[str, Any]:
        """Per group: the best skills with their similarity, the threshold and the category margin."""
        sims = self.similarities([problem])
        margins = self.category_margins(sims)[0]
        out: dict[str, Any] = {}
        for g in GROUPS:
            idx = np.flatnonzero(self._groups == g)
            best = idx[np.argsort(-sims[0, idx])[:top]]
            out[g] = {
                "threshold": self.thresholds.values[g],
                "margin": float(margins[CATEGORIES.index(g)]) if g in CATEGORIES else None,
                "best": [(self.catalog.skills[i].name, round(float(sims[0, i]), 3)) for i in best],
            }
        return out
