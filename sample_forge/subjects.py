"""The seven MATH subjects, the five paper categories, and level parsing."""

from __future__ import annotations

import re

__all__ = ["SUBJECTS", "CATEGORIES", "normalize_subject", "category_of", "parse_level"]

SUBJECTS = (
    "Prealgebra",
    "Algebra",
    "Intermediate Algebra",
    "Geometry",
    "Number Theory",
    "Counting & Probability",
    "Precalculus",
)
CATEGORIES = ("Algebra", "Geometry", "Number Theory", "Probability", "Precalculus")

_SUBJECT_OF_CATEGORY = {
    "Prealgebra": "Algebra",
    "Algebra": "Algebra",
    "Intermediate Algebra": "Algebra",
    "Geometry": "Geometry",
    "Number Theory": "Number Theory",
    "Counting & Probability": "Probability",
    "Precalculus": "Precalculus",
}


def _key(s: str) -> str:
    return re.sub(r"[^a-z]", "", s.lower().replace("&", "and"))


_ALIASES = {_key(s): s for s in SUBJECTS}
_ALIASES.update(
    {
        "countingandprobability": "Counting & Probability",
        "countingprobability": "Counting & Probability",
        "counting": "Counting & Probability",
        "probability": "Counting & Probability",
        "intermediatealgebra": "Intermediate Algebra",
        "intalgebra": "Intermediate Algebra",
        "numbertheory": "Number Theory",
        "prealgebra": "Prealgebra",
        "precalc": "Precalculus",
    }
)


def normalize_subject(name: str | None) -> str | None:
    """Map 'counting_and_probability', 'Counting & Probability', 'number theory' ... to a MATH subject."""
    if name is None:
        return None
    s = str(name).strip()
    if not s:
        return None
    return _ALIASES.get(_key(s))


def category_of(subject: str | None) -> str | None:
    """The paper's category of a MATH subject (Algebra = Prealgebra + Algebra + Intermediate Algebra ...)."""
    if subject is None:
        return None
    norm = normalize_subject(subject)
    if norm is not None:
        return _SUBJECT_OF_CATEGORY[norm]
    for c in CATEGORIES:
        if _key(c) == _key(subject):
            return c
    return None


def parse_level(value: object) -> int | None:
    """'Level 3' / 3 / '3' -> 3; 'Level ?' / None / out of range -> None (unknown)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if value != value:  # NaN
            return None
        v = int(value)
        return v if 1 <= v <= 5 else None
    m = re.search(r"(\d+)", str(value))
    if not m:
        return None
    v = int(m.group(1))
    return v if 1 <= v <= 5 else None
