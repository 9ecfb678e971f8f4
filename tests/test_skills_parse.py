"""Parsing of tagging answers on a team-written file of real-looking raw LLM answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sample_forge.skills.parse import _NONE, MAX_CHARS, parse_answer
from sample_forge.skills.prompt import render_prompt, tag_messages

RAW = Path(__file__).parent / "data" / "raw_tag_answers.jsonl"
CASES = [json.loads(line) for line in RAW.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_raw_answer(case: dict) -> None:
    parsed = parse_answer(case["text"])
    if case["failure"]:
        assert parsed.failure, f"expected a recorded failure, got {parsed.skills}"
        assert parsed.skills == []  # a failure is never a guess
    else:
        assert parsed.failure is None
        assert parsed.skills == case["skills"]


def test_file_covers_the_hard_cases() -> None:
    names = {c["name"] for c in CASES}
    assert {"no_tags", "none_upper", "numbered_lines", "duplicates_case", "trailing_punct"} <= names
    assert sum(c["failure"] for c in CASES) >= 5


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_never_raises_and_skills_are_clean(text: str) -> None:
    parsed = parse_answer(text)
    assert (parsed.failure is None) or parsed.skills == []
    lowered = [s.lower() for s in parsed.skills]
    assert len(lowered) == len(set(lowered))
    for s in parsed.skills:
        assert s == s.strip() and len(s) <= MAX_CHARS and ";" not in s and "<" not in s
        assert not s.endswith((".", ",", ":", ";"))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.from_regex(r"[A-Za-z]{2}[A-Za-z ']{0,30}[A-Za-z]", fullmatch=True), min_size=1, max_size=6)
)
def test_roundtrip_of_well_formed_answers(skills: list[str]) -> None:
    text = "Reasoning...\n<answer>" + "; ".join(skills) + "</answer>"
    parsed = parse_answer(text)
    expected = list(dict.fromkeys(" ".join(s.split()) for s in skills if not _NONE.match(s.strip())))
    seen: set[str] = set()
    expected = [s for s in expected if not (s.lower() in seen or seen.add(s.lower()))]
    if expected and all(len(s.split()) <= 12 for s in expected):
        assert [s.lower() for s in parsed.skills] == [s.lower() for s in expected]


def test_prompt_has_the_paper_wording_and_keeps_latex_braces() -> None:
    problem = r"Find $\frac{1}{2}+\{x\}$ when $x=\sqrt{2}$."
    text = render_prompt("Number Theory", problem)
    assert "in the scope of Number Theory" in text
    assert problem in text
    assert "<answer></answer>" in text and "separate them with ;" in text and "None" in text
    msgs = tag_messages("Geometry", problem)
    assert msgs == [{"role": "user", "content": render_prompt("Geometry", problem)}]
