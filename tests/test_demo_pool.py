"""The project's own demo pool (data/demo/pool.jsonl): well-formed rows, answers that match the
worked solutions, answers confirmed by an independent computation written here in code, and no
copies of MATH problems."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import sympy as sp

from sample_forge.answers import AnswerChecker, extract_boxed
from sample_forge.records import Problem
from sample_forge.subjects import SUBJECTS
from tests.conftest import shared_file

POOL = Path(__file__).resolve().parent.parent / "data" / "demo" / "pool.jsonl"
FIELDS = ("id", "problem", "solution", "answer", "subject", "level", "source")
MIN_COVERAGE = 1.0  # every problem, old and new, has its own computation here


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with POOL.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_rows_are_well_formed(rows: list[dict]) -> None:
    assert len(rows) >= 60
    for r in rows:
        missing = [k for k in FIELDS if not r.get(k)]
        assert not missing, f"{r.get('id')}: missing {missing}"
        assert isinstance(r["level"], int) and 1 <= r["level"] <= 5, r["id"]
        assert r["subject"] in SUBJECTS, r["id"]
        assert r["source"] == "sample-forge-demo", r["id"]
        assert Problem.from_dict(r).category is not None
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids), [i for i, n in Counter(ids).items() if n > 1]
    per_subject = Counter(r["subject"] for r in rows)
    assert set(per_subject) == set(SUBJECTS)
    assert min(per_subject.values()) >= 8, per_subject
    levels = Counter(r["level"] for r in rows)
    assert set(levels) == {1, 2, 3, 4, 5}, levels
    assert levels[1] >= 15, "the pilot needs easy problems a small model can solve"


def test_answer_is_last_boxed_of_solution(rows: list[dict]) -> None:
    bad = {
        r["id"]: (extract_boxed(r["solution"]), r["answer"])
        for r in rows
        if extract_boxed(r["solution"]) != r["answer"]
    }
    assert not bad


# --------------------------------------------------------------------------------------------
# Independent answers: computed here from the problem statement, never parsed from the data file.

x, y, k, m, a, b, p, q = sp.symbols("x y k m a b p q")


def _strictly_increasing_4digit() -> int:
    return sum(1 for n in range(1000, 10000) if all(u < v for u, v in zip(str(n), str(n)[1:])))


def _a20() -> int:
    t = 1
    for n in range(1, 20):
        t += 2 * n + 1
    return t


def _two_numbers_difference() -> sp.Expr:
    sols = sp.solve([a + b - 25, a**2 + b**2 - 337], [a, b], dict=True)
    return {abs(s[a] - s[b]) for s in sols if s[a] > 0 and s[b] > 0}.pop()


def _xy_from_sums() -> sp.Expr:
    sols = sp.solve([x + y - 6, x**3 + y**3 - 90], [x, y], dict=True)
    vals = {sp.simplify(s[x] * s[y]) for s in sols if s[x].is_real and s[y].is_real}
    assert len(vals) == 1
    return vals.pop()


def _smallest_angle_deg() -> sp.Expr:
    sols = sp.solveset(sp.sin(2 * x) - sp.cos(x), x, sp.Interval.open(0, 2 * sp.pi))
    return sp.Min(*sols) * 180 / sp.pi


def _trailing_zeros(n: int) -> int:
    s = str(math.factorial(n))
    return len(s) - len(s.rstrip("0"))


def _f(t):
    return 2 * t + 3


def _g(t):
    return t**2 - 1


def _third_vertex(c: int, b_len: int, a_len: int) -> tuple[sp.Expr, sp.Expr]:
    """Apex of a triangle with base (0,0)-(c,0), side b_len from the origin and a_len from (c,0)."""
    px = sp.Rational(c**2 + b_len**2 - a_len**2, 2 * c)
    return px, sp.sqrt(b_len**2 - px**2)


INDEPENDENT = {
    "demo/prealgebra/001": lambda: 7 + 5,
    "demo/prealgebra/002": lambda: 9 * 6,
    "demo/prealgebra/003": lambda: sp.Rational(48, 6),
    "demo/prealgebra/004": lambda: 15 - 8,
    "demo/prealgebra/005": lambda: 100 - 37,
    "demo/prealgebra/006": lambda: sp.Rational(1, 3) + sp.Rational(1, 6),
    "demo/prealgebra/007": lambda: 2 * (12 + 7),
    "demo/prealgebra/008": lambda: sp.Rational(35, 100) * 240,
    "demo/prealgebra/009": lambda: 18 * sp.Rational(5, 2),
    "demo/prealgebra/010": lambda: (sp.Rational(30, 100) * 200 + sp.Rational(10, 100) * 300) / 500 * 100,
    "demo/prealgebra/011": lambda: 5 * 14 - (10 + 12 + 17 + 19),
    "demo/prealgebra/012": lambda: 5 * sp.solve(sp.Eq((3 * k + 12) * 10, 9 * 5 * k), k)[0],
    "demo/algebra/001": lambda: sp.solve(x + 4 - 11, x)[0],
    "demo/algebra/002": lambda: sp.solve(2 * a - 18, a)[0],
    "demo/algebra/003": lambda: (4 * m - 3).subs(m, 5),
    "demo/algebra/004": lambda: sp.Rational(12 - 3, 4 - 1),
    "demo/algebra/005": lambda: sp.solve(sp.Eq(p * 8, 4 * 6), p)[0],
    "demo/algebra/006": lambda: sum(sp.solve(x**2 - 9 * x + 14, x)),
    "demo/algebra/007": lambda: (lambda s: s[p] * s[q])(sp.solve([2 * p + q - 11, p - q - 1], [p, q])),
    "demo/algebra/008": lambda: sp.Rational(6, 4) * 10,
    "demo/algebra/009": lambda: _f(_g(3)) - _g(_f(1)),
    "demo/algebra/010": lambda: [s for s in sp.solve(k**2 - 4 * 49, k) if s > 0][0],
    "demo/algebra/011": lambda: sum(3 * 2**i for i in range(6)),
    "demo/algebra/012": _two_numbers_difference,
    "demo/intermediate_algebra/001": lambda: sp.Abs(-8) + sp.Abs(3),
    "demo/intermediate_algebra/002": lambda: sp.expand((2 + sp.I) * (2 - sp.I)),
    "demo/intermediate_algebra/003": lambda: sp.rem(x**3 - 2 * x + 5, x - 2, x),
    "demo/intermediate_algebra/004": lambda: sp.solve(sp.log(x, 2) - 5, x)[0],
    "demo/intermediate_algebra/005": lambda: 640 * sp.Rational(1, 2) ** (30 // 5),
    "demo/intermediate_algebra/006": lambda: sp.solve(sp.sqrt(x + 7) - (x - 5), x)[0],
    "demo/intermediate_algebra/007": lambda: sum(
        r**2 for r in sp.solve(x**4 - 13 * x**2 + 36, x) if r.is_real
    ),
    "demo/intermediate_algebra/008": lambda: sum(
        r**2 * n for r, n in sp.roots(x**3 - 6 * x**2 + 11 * x - 6).items()
    ),
    "demo/intermediate_algebra/009": lambda: sp.minimum(x + 16 / x, x, sp.Interval.open(0, sp.oo)),
    "demo/intermediate_algebra/010": _a20,
    "demo/intermediate_algebra/011": lambda: sp.summation(1 / (k * (k + 1)), (k, 1, 20)),
    "demo/intermediate_algebra/012": _xy_from_sums,
    "demo/geometry/001": lambda: 9**2,
    "demo/geometry/002": lambda: 180 - 50 - 60,
    "demo/geometry/003": lambda: sp.sqrt(9**2 + 12**2),
    "demo/geometry/004": lambda: sp.pi * 5**2,
    "demo/geometry/005": lambda: sp.sqrt(sp.Rational(150, 6)) ** 3,
    "demo/geometry/006": lambda: sp.Rational((12 - 2) * 180, 12),
    "demo/geometry/007": lambda: 180 - 2 * 35,
    "demo/geometry/008": lambda: (
        sp.Triangle(sp.Point(0, 0), sp.Point(21, 0), sp.Point(*_third_vertex(21, 10, 17))).area
    ),
    "demo/geometry/009": lambda: 2 * sp.pi * 3**2 + 2 * sp.pi * 3 * 8,
    "demo/geometry/010": lambda: sp.Line(sp.Point(0, 3), sp.Point(4, 0)).distance(sp.Point(2, -1)),
    "demo/geometry/011": lambda: sp.Triangle(sp.Point(-6, 0), sp.Point(6, 0), sp.Point(0, 8)).inradius,
    "demo/number_theory/001": lambda: 47 % 5,
    "demo/number_theory/002": lambda: math.gcd(18, 24),
    "demo/number_theory/003": lambda: sp.ilcm(4, 10),
    "demo/number_theory/004": lambda: sp.divisor_count(36),
    "demo/number_theory/005": lambda: sum(sp.primerange(10, 30)),
    "demo/number_theory/006": lambda: 2024 + sp.ilcm(13, 17),
    "demo/number_theory/007": lambda: pow(7, 2026, 10),
    "demo/number_theory/008": lambda: int("1011011", 2),
    "demo/number_theory/009": lambda: _trailing_zeros(125),
    "demo/number_theory/010": lambda: pow(23, -1, 97),
    "demo/number_theory/011": lambda: min(n for n in range(1, 1000) if (n % 3, n % 5, n % 7) == (2, 3, 4)),
    "demo/number_theory/012": lambda: sum(1 for n in range(1, 1000) if n % 7 == 0 and n % 11),
    "demo/number_theory/013": lambda: sp.divisor_sigma(360),
    "demo/counting_and_probability/001": lambda: len(set(itertools.permutations("CAT"))),
    "demo/counting_and_probability/002": lambda: sp.Rational(sum(1 for f in range(1, 7) if f == 4), 6),
    "demo/counting_and_probability/003": lambda: sp.binomial(5, 2),
    "demo/counting_and_probability/004": lambda: sp.Rational(
        sum(1 for o in itertools.product("HT", repeat=3) if o.count("H") == 2), 2**3
    ),
    "demo/counting_and_probability/005": lambda: sp.binomial(8, 3),
    "demo/counting_and_probability/006": lambda: len(set(itertools.permutations("LETTER"))),
    "demo/counting_and_probability/007": lambda: sp.Rational(
        sum(1 for u, v in itertools.product(range(1, 7), repeat=2) if u + v == 8), 36
    ),
    "demo/counting_and_probability/008": lambda: (
        sp.binomial(4, 1) * sp.Rational(1, 4) * sp.Rational(3, 4) ** 3
    ),
    "demo/counting_and_probability/009": _strictly_increasing_4digit,
    "demo/counting_and_probability/010": lambda: sum(
        1 for t in itertools.product(range(11), repeat=3) if sum(t) <= 10
    ),
    "demo/counting_and_probability/011": lambda: sum(
        1 for s in itertools.permutations(range(5)) if all(s[i] != i for i in range(5))
    ),
    "demo/counting_and_probability/012": lambda: sp.binomial(4, 2) * sp.binomial(48, 3) / sp.binomial(52, 5),
    "demo/precalculus/001": lambda: sp.rad(180),
    "demo/precalculus/002": lambda: sp.Matrix([[3, 1], [2, 4]]).det(),
    "demo/precalculus/003": lambda: sp.Matrix([2, -1, 3]).dot(sp.Matrix([4, 5, 1])),
    "demo/precalculus/004": lambda: sp.sin(sp.pi / 3) * sp.cos(sp.pi / 6),
    "demo/precalculus/005": lambda: 10 * 8 * sp.cos(sp.pi / 3),
    "demo/precalculus/006": lambda: sp.Matrix([2, 3, 6]).norm(),
    "demo/precalculus/007": lambda: 4 * sp.sin(sp.pi / 3),
    "demo/precalculus/008": lambda: sp.Matrix([[2, 0, 1], [1, 3, 2], [1, 1, 4]]).det(),
    "demo/precalculus/009": lambda: (sp.Matrix([[1, 1], [0, 1]]) ** 10)[0, 1],
    "demo/precalculus/010": lambda: sp.Matrix([2, 0, 0]).cross(sp.Matrix([0, 3, 4])).norm() / 2,
    "demo/precalculus/011": lambda: sp.expand_trig(sp.sin(2 * sp.atan(2))),
    "demo/precalculus/012": _smallest_angle_deg,
    "demo/precalculus/013": lambda: sp.expand_trig(
        sp.cos(sp.acos(sp.Rational(3, 5)) + sp.asin(sp.Rational(5, 13)))
    ),
    # the easy problems the pilot trains on first (docs/demo-data.md, "The demo pilot run")
    "demo/prealgebra/013": lambda: 2 + 3,
    "demo/prealgebra/014": lambda: 6 + 3,
    "demo/prealgebra/015": lambda: 5 * 3,
    "demo/prealgebra/016": lambda: 20 + 30,
    "demo/algebra/013": lambda: sp.solve(x + 2 - 5, x)[0],
    "demo/algebra/014": lambda: (2 * y).subs(y, 4),
    "demo/algebra/015": lambda: (a + b).subs({a: 5, b: 3}),
    "demo/algebra/016": lambda: sp.solve(2 * x + 1 - 9, x)[0],
    "demo/intermediate_algebra/013": lambda: 2**3,
    "demo/intermediate_algebra/014": lambda: sp.sqrt(16),
    "demo/intermediate_algebra/015": lambda: sp.Abs(-5) + 4,
    "demo/intermediate_algebra/016": lambda: (x**2 + 1).subs(x, 2),
    "demo/geometry/012": lambda: (
        sp.Polygon(sp.Point(0, 0), sp.Point(5, 0), sp.Point(5, 5), sp.Point(0, 5)).area
    ),
    "demo/geometry/013": lambda: (
        sp.Polygon(sp.Point(0, 0), sp.Point(4, 0), sp.Point(4, 2), sp.Point(0, 2)).area
    ),
    "demo/geometry/014": lambda: (
        sp.Polygon(sp.Point(0, 0), sp.Point(3, 0), sp.Point(3, 3), sp.Point(0, 3)).perimeter
    ),
    "demo/geometry/015": lambda: 180 - 90 - 45,
    "demo/number_theory/014": lambda: math.gcd(4, 6),
    "demo/number_theory/015": lambda: 10 % 3,
    "demo/number_theory/016": lambda: sp.ilcm(2, 3),
    "demo/number_theory/017": lambda: sum(1 for d in range(1, 7) if 6 % d == 0),
    "demo/counting_and_probability/013": lambda: len(list(itertools.permutations(range(3)))),
    "demo/counting_and_probability/014": lambda: len(list(itertools.combinations(range(4), 1))),
    "demo/counting_and_probability/015": lambda: sp.factorial(4),
    "demo/counting_and_probability/016": lambda: len(list(itertools.product(range(3), range(2)))),
    "demo/precalculus/014": lambda: sp.cos(0),
    "demo/precalculus/015": lambda: sp.tan(sp.pi / 4),
    "demo/precalculus/016": lambda: sp.Matrix([[1, 0], [0, 2]]).det(),
    "demo/precalculus/017": lambda: sp.Matrix([3, 4]).norm(),
}


def _as_latex(value: object) -> str:
    v = sp.Integer(value) if isinstance(value, int) else value
    return sp.latex(sp.nsimplify(v) if isinstance(v, sp.Float) else v)


@pytest.fixture(scope="module")
def checker():
    with AnswerChecker(timeout=10.0, workers=2) as c:
        yield c


def test_independent_computation_agrees(rows: list[dict], checker: AnswerChecker) -> None:
    ids = {r["id"] for r in rows}
    assert not set(INDEPENDENT) - ids, f"checks for unknown ids: {sorted(set(INDEPENDENT) - ids)}"
    covered = [r for r in rows if r["id"] in INDEPENDENT]
    coverage = len(covered) / len(rows)
    assert coverage >= MIN_COVERAGE, f"independent checks cover {coverage:.0%} < {MIN_COVERAGE:.0%}"

    expected = {r["id"]: INDEPENDENT[r["id"]]() for r in covered}
    pairs = [(r["answer"], _as_latex(expected[r["id"]])) for r in covered]
    # the same check against a wrong value must fail, so a lax comparison cannot pass everything
    wrong = [(r["answer"], _as_latex(sp.sympify(expected[r["id"]]) + 1)) for r in covered]
    verdicts = checker.check_many(pairs + wrong)
    agree, off_by_one = verdicts[: len(pairs)], verdicts[len(pairs) :]
    mismatches = {r["id"]: pair for r, pair, ok in zip(covered, pairs, agree) if ok is not True}
    assert not mismatches, mismatches
    lax = [r["id"] for r, ok in zip(covered, off_by_one) if ok is not False]
    assert not lax, lax


# --------------------------------------------------------------------------------------------
# Not copied from MATH.

NGRAM = 8
MAX_OVERLAP = 0.5


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _ngrams(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + NGRAM]) for i in range(len(tokens) - NGRAM + 1)}


def test_not_copied_from_math(rows: list[dict], shared_data: Path) -> None:
    exact: set[str] = set()
    grams: set[tuple[str, ...]] = set()
    n_math = 0
    for rel in ("math/math_train.jsonl", "math/math_test.jsonl"):
        with shared_file(shared_data, rel).open(encoding="utf-8") as f:
            for line in f:
                toks = _tokens(json.loads(line)["problem"])
                exact.add(" ".join(toks))
                grams |= _ngrams(toks)
                n_math += 1
    assert n_math >= 12_000
    copies = [r["id"] for r in rows if " ".join(_tokens(r["problem"])) in exact]
    assert not copies, f"exact MATH problems: {copies}"
    overlapping = {}
    for r in rows:
        own = _ngrams(_tokens(r["problem"]))
        if own:
            share = len(own & grams) / len(own)
            if share > MAX_OVERLAP:
                overlapping[r["id"]] = round(share, 2)
    assert not overlapping, f"8-gram overlap with MATH above {MAX_OVERLAP:.0%}: {overlapping}"


def test_loads_as_a_pool(rows: list[dict]) -> None:
    """The packaged file loads through the project's own pool loader with nothing lost."""
    from sample_forge.paths import resource_path
    from sample_forge.pool import load_pool

    problems = load_pool(resource_path("data/demo/pool.jsonl"))
    assert [p.id for p in problems] == [r["id"] for r in rows]
    for p, r in zip(problems, rows):
        assert (p.answer, p.subject, p.level, p.problem) == (
            r["answer"],
            r["subject"],
            r["level"],
            r["problem"],
        )
    easy = load_pool(resource_path("data/demo/pool.jsonl"), levels="1")
    assert len(easy) == sum(1 for r in rows if r["level"] == 1)
