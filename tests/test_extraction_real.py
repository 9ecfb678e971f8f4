"""Our ``extract_boxed`` against the published MATH answers, checked with math-verify.

For every row of MATH train (7,500), test (5,000) and MATH-500, the answer extracted from
``solution`` must be math-verify-equivalent to the ``answer`` column. Rows where both sides are
empty (the two empty ``\\boxed{}`` in train) agree. The checks run through the process pool.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sample_forge.answers import AnswerChecker, extract_boxed
from tests.conftest import shared_file

FILES = ("math/math_train.jsonl", "math/math_test.jsonl", "math/math500.jsonl")
# Disagreements allowed over all 13,000 rows. The published answers were extracted with the same
# last-box rule, so any disagreement is a bug in ours or a math-verify parse failure; 5 leaves
# room for a math-verify release that parses one odd answer differently, not for a broken rule.
MAX_DISAGREE = 5


@pytest.mark.slow
def test_extracted_answers_agree_with_math(shared_data):
    pairs: list[tuple[str, str]] = []
    where: list[str] = []
    both_empty = 0
    one_empty: list[str] = []
    string_diff = 0
    for rel in FILES:
        path = shared_file(shared_data, rel)
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                row = json.loads(line)
                gold, ours = row.get("answer"), extract_boxed(row["solution"])
                loc = f"{rel}:{lineno} ({row.get('unique_id')})"
                if gold is None and ours is None:
                    both_empty += 1
                    continue
                if gold is None or ours is None:
                    one_empty.append(f"{loc}: gold={gold!r} ours={ours!r}")
                    continue
                string_diff += gold.strip() != ours
                pairs.append((gold, ours))
                where.append(loc)
    assert len(pairs) + both_empty + len(one_empty) == 13000

    with AnswerChecker(timeout=10) as checker:
        verdicts = checker.verdicts(pairs)

    bad = [(loc, p, v) for loc, p, v in zip(where, pairs, verdicts) if v.equivalent is not True]
    reasons = Counter(v.reason for _, _, v in bad)
    report = [
        f"{len(pairs)} pairs checked, {string_diff} differ as strings, {both_empty} empty on "
        f"both sides, {len(one_empty)} empty on one side, {len(bad)} not equivalent: "
        f"{dict(reasons)}"
    ]
    report += one_empty[:20]
    report += [f"{loc}: {v.reason}: gold={g!r} ours={o!r}" for loc, (g, o), v in bad[:20]]
    print("\n".join(report))
    assert both_empty == 2  # train/number_theory/7115.json and 7117.json
    assert len(bad) + len(one_empty) <= MAX_DISAGREE, "\n".join(report)
