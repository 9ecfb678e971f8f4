"""The paper's per-category tagging prompt (``prompts/tag_skills.txt``, slots ``{category}`` and
``{problem}``) as chat messages."""

from __future__ import annotations

import functools
from typing import Any

from sample_forge.paths import read_prompt

__all__ = ["PROMPT_NAME", "render_prompt", "tag_messages"]

PROMPT_NAME = "tag_skills.txt"


@functools.lru_cache(maxsize=4)
def _template(name: str) -> str:
    return read_prompt(name)


def render_prompt(category: str, problem: str, *, template: str | None = None) -> str:
    """Fill the template. ``str.format`` only interprets the template, so braces in the LaTeX of the
    problem are inserted verbatim."""
    text = template if template is not None else _template(PROMPT_NAME)
    return text.format(category=category, problem=problem.strip())


def tag_messages(category: str, problem: str, *, template: str | None = None) -> list[dict[str, Any]]:
    return [{"role": "user", "content": render_prompt(category, problem, template=template)}]
