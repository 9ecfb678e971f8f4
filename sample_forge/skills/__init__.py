"""Salient-skill tagging (Polymath paper): per-category skills of each problem, mapped to a catalog
of canonical skills, with the skill spectrum.

    from sample_forge.skills import tag_problems
    tags = tag_problems(problems)                           # offline: embedding tagger
    tags = tag_problems(problems, method="llm", model="local")  # the paper's prompt, one call per category
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sample_forge.records import Problem, SkillTag
from sample_forge.skills.canonical import CanonicalConfig, Canonicalizer, discover_skills
from sample_forge.skills.catalog import CROSS_DOMAIN, GROUPS, Catalog, Skill, load_catalog
from sample_forge.skills.embed_tagger import EmbedConfig, EmbedTagger, Thresholds, load_thresholds
from sample_forge.skills.llm_tagger import LLMTagConfig, LLMTagger
from sample_forge.skills.parse import parse_answer
from sample_forge.skills.resolve import resolve_skills
from sample_forge.skills.spectrum import fill_spectrum, plot_spectrum, pool_stats

__all__ = [
    "tag_problems",
    "default_method",
    "resolve_skills",
    "load_catalog",
    "load_thresholds",
    "EmbedTagger",
    "EmbedConfig",
    "LLMTagger",
    "LLMTagConfig",
    "Canonicalizer",
    "discover_skills",
    "parse_answer",
    "pool_stats",
    "plot_spectrum",
    "CanonicalConfig",
    "CROSS_DOMAIN",
    "GROUPS",
    "Catalog",
    "Skill",
    "Thresholds",
    "fill_spectrum",
    "Problem",
    "SkillTag",
]


def default_method(model: str | None = None) -> str:
    """``llm`` when a model is named or configured (env or models config file), else ``embed``."""
    from sample_forge.paths import config_path

    if model or os.environ.get("OPENAI_BASE_URL") or config_path().exists():
        return "llm"
    return "embed"


def _as_problem(p: Problem | Mapping[str, Any]) -> Problem:
    return p if isinstance(p, Problem) else Problem.from_dict(dict(p))


def tag_problems(
    problems: Iterable[Problem | Mapping[str, Any]],
    *,
    method: str | None = None,
    model: Any = None,
    catalog: Catalog | str | Path | None = None,
    thresholds: Thresholds | str | Path | None = None,
    top_k: int = 3,
    max_tokens: int = 256,
    failures_path: str | Path | None = None,
    progress: Any = None,
) -> list[SkillTag]:
    """Tag problems with ``method`` ``"embed"`` (offline) or ``"llm"`` (``model``: a name for
    ``sample_forge.llm.get_model`` or a Model). Default: ``default_method(model)``. ``progress``: a bar
    around the LLM calls (``sample_forge.llm.base.ProgressBar``)."""
    probs = [_as_problem(p) for p in problems]
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    method = method or default_method(model if isinstance(model, str) else None)
    if method == "embed":
        th = thresholds if isinstance(thresholds, Thresholds) else load_thresholds(thresholds)
        return EmbedTagger(cat, th, EmbedConfig(top_k=top_k)).tag(probs)
    if method == "llm":
        from sample_forge.llm import get_model

        own = model is None or isinstance(model, str)
        m = get_model(model) if own else model
        try:
            tagger = LLMTagger(m, Canonicalizer(cat), LLMTagConfig(max_tokens=max_tokens))
            return tagger.tag(probs, progress=progress, failures_path=failures_path)
        finally:
            if own:
                m.close()  # a model passed in stays open for the caller
    raise ValueError(f"unknown tagging method '{method}' (embed or llm)")
