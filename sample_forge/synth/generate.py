"""Generation: one LLM call per candidate, generators rotated, prompts from ``prompts/``."""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sample_forge.errors import SampleForgeError
from sample_forge.paths import read_prompt

if TYPE_CHECKING:
    from sample_forge.llm import Request

__all__ = ["STYLES", "GenerationConfig", "render", "generation_requests"]

STYLES = {"prime": "synth_prime", "specialist": "synth_specialist", "math-only": "synth_math_only"}


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
    n: int, skills: Sequence[str], generators: Sequence[str], config: GenerationConfig
) -> list[tuple[str, Request]]:
    """``(generator name, Request)`` per candidate i: generator i mod len(generators); the sample
    index is i so every candidate is its own cached sample and a re-run pays nothing."""
    from sample_forge.llm import Request

    if not generators:
        raise SampleForgeError("at least one generator model is needed (--generators)")
    prompt = render(STYLES[config.style], skills=", ".join(skills) or "any", domain=config.domain)
    msgs = [{"role": "user", "content": prompt}]
    return [
        (
            generators[i % len(generators)],
            Request(
                msgs,
                n=1,
                temperature=config.temperature,
                max_tokens=config.max_tokens,
                index=i,
                id=f"cand-{i:05d}",
            ),
        )
        for i in range(n)
    ]
