"""A tiny parser for comparison rules (``--correct "reward==1"``, ``--threshold "lim>=0.6"``).

No ``eval``: a rule is one or more ``name OP number`` terms joined by ``and`` / ``,`` (all must hold)
or ``or``. Rules are applied to NumPy arrays, so a rule over a million rewards is one vector operation.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from sample_forge.errors import SampleForgeError

__all__ = ["Rule", "parse_rule"]

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_TERM = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<|=)\s*"
    r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Rule:
    """Parsed rule: a disjunction of conjunctions of (name, op, number) terms."""

    text: str
    clauses: tuple[tuple[tuple[str, str, float], ...], ...]

    @property
    def names(self) -> set[str]:
        return {t[0] for c in self.clauses for t in c}

    def apply(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean mask; ``columns`` maps every name in the rule to an array (NaN compares false)."""
        out: np.ndarray | None = None
        for clause in self.clauses:
            mask: np.ndarray | None = None
            for name, op, value in clause:
                col = np.asarray(columns[name], dtype=np.float64)
                with np.errstate(invalid="ignore"):
                    m = _OPS[op](col, value)
                mask = m if mask is None else (mask & m)
            out = mask if out is None else (out | mask)
        assert out is not None
        return out


def parse_rule(text: str, allowed: set[str] | Mapping[str, str], *, option: str) -> Rule:
    """Parse ``text``; names must be in ``allowed`` (a mapping renames aliases, e.g. acc -> reward)."""
    if not text or not text.strip():
        raise SampleForgeError(f"{option}: empty rule")
    clauses = []
    for disj in re.split(r"\s+or\s+|\|\|", text.strip()):
        terms = []
        for part in re.split(r"\s+and\s+|,|&&", disj):
            m = _TERM.match(part)
            if not m:
                raise SampleForgeError(
                    f"{option}: cannot parse '{part.strip()}' in '{text}'; expected NAME OP NUMBER "
                    f"with OP one of == != >= <= > < (e.g. 'reward==1')"
                )
            name, op, num = m.group(1), m.group(2), float(m.group(3))
            if op == "=":
                op = "=="
            if name not in allowed:
                raise SampleForgeError(
                    f"{option}: unknown name '{name}' in '{text}'; use one of {', '.join(sorted(allowed))}"
                )
            if isinstance(allowed, Mapping):
                name = allowed[name]
            if math.isnan(num):
                raise SampleForgeError(f"{option}: NaN is not a number to compare with")
            terms.append((name, op, num))
        clauses.append(tuple(terms))
    return Rule(text=text.strip(), clauses=tuple(clauses))
