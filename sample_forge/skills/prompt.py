"""The paper's per-category tagging prompt (``prompts/tag_skills.txt``, slots ``{category}`` and
``{problem}``) as chat messages, and the JSON schema of its answer for models with structured output
(the prompt then gains one line asking for JSON only; its content is the paper's)."""

from __future__ import annotations

import functools
from typing import Any

from sample_forge.paths import read_prompt

__all__ = ["PROMPT_NAME", "TAG_SCHEMA", "JSON_LINE", "render_prompt", "tag_messages"]

PROMPT_NAME = "tag_skills.txt"

# Bounded lengths keep a small model inside max_tokens (llama.cpp's grammar enforces them).
TAG_SCHEMA = {
    "title": "skills",
    "type": "object",
    "properties": {
        "skills": {
            "type": "array",
            "items": {"type": "string", "minLength": 2, "maxLength": 60},
            "maxItems": 8,
        }
    },
    "required": ["skills"],
    "additionalProperties": False,
}
JSON_LINE = 'Reply with JSON only: {"skills": ["skill", "skill"]}, or {"skills": []} if there are none.'


@functools.lru_cache(maxsize=4)
def _template(name: str) -> str:
    return read_prompt(name)


def render_prompt(category: str, problem: str, *, template: str | None = None) -> str:
    """Fill the template. ``str.format`` only interprets the template, so braces in the LaTeX of the
    problem are inserted verbatim."""
    text = template if template is not None else _template(PROMPT_NAME)
    return text.format(category=category, problem=problem.strip())


def tag_messages(
    category: str, problem: str, *, template: str | None = None, json_only: bool = False
) -> list[dict[str, Any]]:
    """``json_only``: the request carries ``TAG_SCHEMA``; one line asks for the JSON reply."""
    text = render_prompt(category, problem, template=template)
    if json_only:
        text = f"{text}\n\n{JSON_LINE}"
    return [{"role": "user", "content": text}]
