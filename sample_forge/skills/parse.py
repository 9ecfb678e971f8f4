"""Parse a tagging answer: the JSON reply ``{"skills": [...]}`` of a schema request, else the
``;``-separated skills inside the last ``<answer></answer>`` (the paper's format).

Robust to what models really write (numbering, bullets, one skill per line, duplicates, trailing
punctuation, markdown bold, ``None``), strict about the rest: an answer without the tags, an empty
answer or one with no usable skill is a *failure* with a reason, never a guess."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sample_forge.llm.schema import json_reply

__all__ = ["ParsedAnswer", "parse_answer", "clean_skill"]

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.I | re.S)
_OPEN = re.compile(r"<answer>", re.I)
_NONE = re.compile(
    r"^(none|n/?a|no (relevant )?(skills?|concepts?)( needed| required)?|nothing|null|-)$", re.I
)
_NUMBERING = re.compile(r"^\s*(?:\(?\d{1,2}[.):]|\(?[a-z][.)](?=\s)|[-*•·–]+)\s*", re.I)
_EDGE_PUNCT = " \t\r\n.,;:!?\"'`*_"
MAX_WORDS = 12
MAX_CHARS = 100


@dataclass
class ParsedAnswer:
    """``skills``: cleaned, de-duplicated (case-insensitive, order kept); ``failure``: why nothing
    could be read (None when the answer parsed, including an explicit ``None`` = no skills);
    ``dropped``: items discarded as not skill-like."""

    skills: list[str] = field(default_factory=list)
    failure: str | None = None
    dropped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None


def clean_skill(item: str) -> str:
    """Strip numbering, bullets, markdown and edge punctuation; collapse whitespace."""
    s = item.replace("**", "").strip()
    prev = None
    while prev != s:  # "1. - foo" -> "foo"
        prev = s
        s = _NUMBERING.sub("", s).strip(_EDGE_PUNCT)
    return re.sub(r"\s+", " ", s)


def _usable(s: str) -> bool:
    return (
        bool(re.search(r"[A-Za-z]{2}", s))
        and len(s) <= MAX_CHARS
        and len(s.split()) <= MAX_WORDS
        and "<" not in s
    )


def _parse_json(data: dict[str, Any]) -> ParsedAnswer:
    if data.get("none") is True:
        return ParsedAnswer()
    skills = data.get("skills")
    if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
        return ParsedAnswer(failure="JSON reply without a 'skills' list of strings")
    if not skills:
        return ParsedAnswer()
    return _items(skills, "JSON 'skills'")


def parse_answer(text: str | None) -> ParsedAnswer:
    if text is None or not text.strip():
        return ParsedAnswer(failure="empty response")
    data = json_reply(text)
    if data is not None:
        return _parse_json(data)
    found = _ANSWER.findall(text)
    if not found:
        why = "unclosed <answer> tag" if _OPEN.search(text) else "no <answer></answer> tags"
        return ParsedAnswer(failure=why)
    body = found[-1].strip()  # the last one: models often echo the instruction's example first
    if not body.strip(_EDGE_PUNCT):
        return ParsedAnswer(failure="empty <answer></answer>")
    if _NONE.match(body.strip(_EDGE_PUNCT)):
        return ParsedAnswer()
    # One item per ';'. A model that ignored the separator wrote one item per line, or a comma list.
    if ";" in body:
        parts = body.split(";")
    elif "\n" in body.strip():
        parts = body.splitlines()
    else:
        parts = re.split(r",(?![^()]*\))", body)
    return _items(parts, "<answer>")


def _items(parts: list[str], where: str) -> ParsedAnswer:
    out: list[str] = []
    seen: set[str] = set()
    dropped: list[str] = []
    for part in parts:
        s = clean_skill(part)
        if not s or _NONE.match(s):
            continue
        if not _usable(s):
            dropped.append(part.strip())
            continue
        key = s.lower()
        if key not in seen:
            seen.add(key)
            out.append(s)
    if not out:
        return ParsedAnswer(failure=f"no usable skill in {where}", dropped=dropped)
    return ParsedAnswer(skills=out, dropped=dropped)
