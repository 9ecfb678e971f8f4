"""Parse a generator's reply: the JSON ``{"problem": …, "answer": …}`` of a schema request, else
``<problem>…</problem><answer>…</answer>``. A reply that does not follow either format is a recorded
parse failure with its reason, never a guess."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sample_forge.llm.schema import json_reply

__all__ = ["Parsed", "parse_generation", "clean_answer"]

_TAG = {t: re.compile(rf"<{t}>(.*?)</{t}>", re.S | re.I) for t in ("problem", "answer")}
_OPEN = {t: re.compile(rf"<{t}>", re.I) for t in ("problem", "answer")}
_BOX = re.compile(r"^\\(?:boxed|fbox)\s*\{(.*)\}$", re.S)


@dataclass(frozen=True)
class Parsed:
    """``problem``/``answer`` when the reply parsed; otherwise ``error`` says what was missing."""

    problem: str | None
    answer: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def clean_answer(answer: str) -> str:
    """Strip the wrapping a generator puts around a final answer: ``$…$``, ``\\boxed{…}``, a final period."""
    a = answer.strip()
    for _ in range(3):
        prev = a
        if len(a) >= 2 and a[0] == "$" and a[-1] == "$":
            a = a.strip("$").strip()
        if (m := _BOX.match(a)) is not None:
            a = m.group(1).strip()
        a = a.rstrip(".").strip()
        if a == prev:
            break
    return a


def _from_json(data: dict[str, Any]) -> Parsed:
    problem, answer = data.get("problem"), data.get("answer")
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = str(answer)
    if not isinstance(problem, str) or not problem.strip():
        return Parsed(None, None, "JSON reply without a 'problem' string")
    if not isinstance(answer, str) or not clean_answer(answer):
        return Parsed(problem.strip(), None, "JSON reply without an 'answer'")
    return Parsed(problem.strip(), clean_answer(answer))


def parse_generation(text: str | None) -> Parsed:
    if not text or not text.strip():
        return Parsed(None, None, "empty reply")
    data = json_reply(text)
    if data is not None:
        return _from_json(data)
    blocks = {}
    for tag in ("problem", "answer"):
        found = _TAG[tag].findall(text)
        if not found:
            reason = (
                f"<{tag}> opened but not closed" if _OPEN[tag].search(text) else f"no <{tag}>…</{tag}> block"
            )
            return Parsed(None, None, reason)
        if len(found) > 1:
            return Parsed(None, None, f"{len(found)} <{tag}> blocks (expected one)")
        blocks[tag] = found[0].strip()
    problem, answer = blocks["problem"], clean_answer(blocks["answer"])
    if not problem:
        return Parsed(None, None, "empty <problem>")
    if not answer:
        return Parsed(problem, None, "empty <answer>")
    return Parsed(problem, answer)
