"""Generation: one LLM call per candidate, generators rotated, prompts from ``prompts/``. A generator
with structured output is asked for ``{"problem", "answer"}`` (``GENERATION_SCHEMA``, one more prompt
line); the others for the prompt's ``<problem>``/``<answer>`` tags."""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sample_forge.errors import SampleForgeError
from sample_forge.paths import read_prompt

if TYPE_CHECKING:
    from sample_forge.llm import Request

__all__ = ["STYLES", "GENERATION_SCHEMA", "JSON_LINE", "GenerationConfig", "render", "generation_requests"]

STYLES = {"prime": "synth_prime", "specialist": "synth_specialist", "math-only": "synth_math_only"}

# Bounded lengths keep a small model inside max_tokens (llama.cpp's grammar enforces them): at worst one
# token per character, 900 + 32 characters fit the default 1024 tokens; 40 is the form check's minimum.
GENERATION_SCHEMA = {
    "title": "candidate",
    "type": "object",
    "properties": {
        "problem": {"type": "string", "minLength": 40, "maxLength": 900},
        "answer": {"type": "string", "minLength": 1, "maxLength": 32},
    },
    "required": ["problem", "answer"],
    "additionalProperties": False,
}
JSON_LINE = 'Reply with JSON only: {"problem": "the full problem statement", "answer": "the integer answer"}.'


@dataclass(frozen=True)
class GenerationConfig:
    """``style``: prime (physics+chemistry+biology professor, the paper's prompt), specialist (one
    ``domain``) or math-only. ``temperature``: diversity across candidates."""

    style: str = "prime"
    domain: str = "physics"
    temperature: float = 1.0
    max_tokens: int = 1024

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise SampleForgeError(f"unknown style '{self.style}'; use one of {', '.join(STYLES)}")


def render(template: str, **slots: str) -> str:
    """Fill ``$slot`` names; a slot missing from ``slots`` is an error, not a silent blank."""
    try:
        return string.Template(read_prompt(template)).substitute(**slots)
    except KeyError as e:
        raise SampleForgeError(f"prompt template '{template}' needs slot {e}") from None


def generation_requests(
    n: int,
    skills: Sequence[str],
    generators: Sequence[str],
    config: GenerationConfig,
    structured: Collection[str] = (),
) -> list[tuple[str, Request]]:
    """``(generator name, Request)`` per candidate i: generator i mod len(generators); the sample
    index is i so every candidate is its own cached sample and a re-run pays nothing. Generators named
    in ``structured`` get ``GENERATION_SCHEMA``."""
    from sample_forge.llm import Request

    if not generators:
        raise SampleForgeError("at least one generator model is needed (--generators)")
    prompt = render(STYLES[config.style], skills=", ".join(skills) or "any", domain=config.domain)
    plain = [{"role": "user", "content": prompt}]
    as_json = [{"role": "user", "content": f"{prompt.rstrip()}\n\n{JSON_LINE}"}]
    out = []
    for i in range(n):
        g = generators[i % len(generators)]
        js = g in structured
        req = Request(
            as_json if js else plain,
            n=1,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            index=i,
            id=f"cand-{i:05d}",
            schema=GENERATION_SCHEMA if js else None,
        )
        out.append((g, req))
    return out
