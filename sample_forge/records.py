"""Plain record dataclasses passed between the stages of the pipeline."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Record",
    "Problem",
    "CheckResult",
    "Completion",
    "SkillTag",
    "ImpactScore",
    "Candidate",
    "record_to_dict",
]


class Record:
    """A record's JSON form is its fields (``dataclasses.asdict``); a subclass may add derived keys."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class Problem(Record):
    """One math problem of a pool. ``answer`` is the gold final answer (LaTeX, no ``\\boxed``)."""

    id: str
    problem: str
    answer: str | None = None
    solution: str | None = None
    subject: str | None = None  # one of the seven MATH subjects, or None
    level: int | None = None  # 1..5, None when unknown ("Level ?")
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str | None:
        from sample_forge.subjects import category_of

        return category_of(self.subject)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        extra = {k: v for k, v in d.items() if k not in names and k != "category"}
        meta = dict(kwargs.pop("meta", None) or {})
        meta.update(extra)
        kwargs["id"] = str(kwargs["id"])
        lvl = kwargs.get("level")
        kwargs["level"] = None if lvl is None or lvl != lvl else int(lvl)  # NaN from pandas
        return cls(**kwargs, meta=meta)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["category"] = self.category
        return d


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one filter/check on one item (datatrove style): keep or drop, and why."""

    check: str
    keep: bool
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Completion:
    """One LLM completion."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False
    model: str = ""


@dataclass
class SkillTag(Record):
    """Salient skills of one problem. ``raw``: free-text skills per category as the tagger gave them;
    ``canonical``: catalog skill names per category; ``spectrum``: distinct canonical skills per category."""

    id: str
    method: str  # "llm" | "embed"
    raw: dict[str, list[str]] = field(default_factory=dict)
    canonical: dict[str, list[str]] = field(default_factory=dict)
    spectrum: dict[str, int] = field(default_factory=dict)
    total: int = 0
    breadth: int = 0  # categories with at least one skill
    failures: dict[str, str] = field(default_factory=dict)  # category -> why the tagging failed


@dataclass
class ImpactScore(Record):
    """Learning-impact scores of one training sample over a pilot run."""

    id: str
    lim: float
    hist_var: float
    learnability: float
    mean_acc: float
    first_acc: float
    last_acc: float
    n_epochs: int
    rank: int = 0
    filled_epochs: int = 0  # epochs filled by the missing-epoch rule


@dataclass
class Candidate(Record):
    """A synthetic problem and its full validation record."""

    id: str
    problem: str
    generator_answer: str | None
    generator: str
    style: str
    skills_requested: list[str] = field(default_factory=list)
    golden_answer: str | None = None
    agreement: float | None = None
    pass_rate: float | None = None
    spectrum: dict[str, int] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    accepted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected_by(self) -> list[str]:
        return [c.check for c in self.checks if not c.keep]


def record_to_dict(rec: Any) -> dict[str, Any]:
    if hasattr(rec, "to_dict"):
        return rec.to_dict()
    if dataclasses.is_dataclass(rec):
        return dataclasses.asdict(rec)
    return dict(rec)
