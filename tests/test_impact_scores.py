"""Formulas of sample_forge.impact.scores / epochs / rules, checked as properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sample_forge.errors import SampleForgeError
from sample_forge.impact.epochs import build_matrix, fill_missing
from sample_forge.impact.rules import parse_rule
from sample_forge.impact.scores import compute_scores, lim_scores

R = 8  # rollouts: accuracies are multiples of 1/8, as in the logs
accs = arrays(
    np.float64,
    st.tuples(st.integers(2, 12), st.integers(1, 8)),
    elements=st.integers(0, R).map(lambda c: c / R),
)


@given(accs)
@settings(max_examples=60, deadline=None)
def test_lim_is_at_most_one_and_one_for_the_mean_curve(acc: np.ndarray) -> None:
    # a sample equal to the mean curve of the others leaves the mean unchanged: LIM exactly 1
    with_mean = np.vstack([acc, acc.mean(axis=0)])
    lim = lim_scores(with_mean)
    assert np.all(lim <= 1.0 + 1e-12)
    assert lim[-1] == pytest.approx(1.0, abs=1e-12)


@given(accs)
@settings(max_examples=40, deadline=None)
def test_lim_matches_the_limr_formula_written_out(acc: np.ndarray) -> None:
    lim = lim_scores(acc)
    n, E = acc.shape
    for i in range(n):
        rbar = [sum(acc[j][k] for j in range(n)) / n for k in range(E)]
        den = sum((1 - rbar[k]) ** 2 for k in range(E))
        want = 1.0 if den == 0 else 1 - sum((acc[i][k] - rbar[k]) ** 2 for k in range(E)) / den
        assert lim[i] == pytest.approx(want, abs=1e-9)


@given(accs)
@settings(max_examples=40, deadline=None)
def test_other_scores_are_numpy_definitions(acc: np.ndarray) -> None:
    sc = compute_scores(acc)
    for i, row in enumerate(acc):
        assert sc["hist_var"][i] == pytest.approx(np.var(row), abs=1e-12)  # population variance
        assert sc["learnability"][i] == pytest.approx(np.mean(row * (1 - row)), abs=1e-12)
        assert sc["mean_acc"][i] == pytest.approx(row.mean(), abs=1e-12)
        assert (sc["first_acc"][i], sc["last_acc"][i]) == (row[0], row[-1])
        assert sc["n_epochs"][i] == len(row)


def _long_table(counts: np.ndarray, rng: np.random.Generator):
    """One record per (sample, step, rollout) for a counts matrix [sample, epoch], 2 steps/epoch."""
    sample, step, corr = [], [], []
    for i, row in enumerate(counts):
        for e, c in enumerate(row):
            s = 1 + 2 * e + int(rng.integers(0, 2))
            for k in range(R):
                sample.append(i)
                step.append(s)
                corr.append(1.0 if k < c else 0.0)
    return np.array(sample, np.int32), np.array(step, np.int64), np.array(corr)


@given(
    arrays(np.int64, st.tuples(st.integers(2, 8), st.integers(1, 5)), elements=st.integers(0, R)),
    st.integers(0, 2**31),
)
@settings(max_examples=40, deadline=None)
def test_invariant_to_the_order_of_records_and_of_sample_ids(counts: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(len(counts))]
    sample, step, corr = _long_table(counts, rng)
    m1 = build_matrix(ids, sample, step, np.ones(len(corr)), corr, steps_per_epoch=2, first_step=1)
    # shuffle the records and renumber the samples (as another reader would have seen them)
    perm = rng.permutation(len(sample))
    relabel = rng.permutation(len(ids))
    ids2 = [None] * len(ids)
    for old, new in enumerate(relabel):
        ids2[new] = ids[old]
    m2 = build_matrix(
        ids2,
        relabel[sample[perm]].astype(np.int32),
        step[perm],
        np.ones(len(corr)),
        corr[perm],
        steps_per_epoch=2,
        first_step=1,
    )
    assert m1.ids == m2.ids
    s1, s2 = compute_scores(m1.acc), compute_scores(m2.acc)
    for k in s1:
        assert np.array_equal(s1[k], s2[k], equal_nan=True), k
    np.testing.assert_array_equal(m1.acc, counts[np.argsort(ids, kind="stable")] / R)


def test_missing_rules() -> None:
    nan = np.nan
    acc = np.array([[0.5, nan, nan, 1.0], [nan, 0.25, 0.5, nan], [0.0, 0.5, 1.0, 1.0]])
    filled, n, keep = fill_missing(acc, "chain")  # from the next epoch, chained
    np.testing.assert_array_equal(filled[0], [0.5, 1.0, 1.0, 1.0])
    assert list(n) == [2, 1, 0] and list(keep) == [True, False, True]
    # LIMR: one forward pass, so of the two missing epochs of row 0 only the second is filled
    filled, n, keep = fill_missing(acc, "limr")
    np.testing.assert_array_equal(filled[0], [0.5, nan, 1.0, 1.0])
    np.testing.assert_array_equal(filled[1], [0.25, 0.25, 0.5, nan])
    assert list(n) == [1, 1, 0] and list(keep) == [False, False, True]
    _, n, keep = fill_missing(acc, "drop")
    assert list(keep) == [False, False, True] and n.sum() == 0
    filled, n, keep = fill_missing(acc, "interpolate")
    np.testing.assert_allclose(filled[0], [0.5, 2 / 3, 5 / 6, 1.0])
    np.testing.assert_allclose(filled[1], [0.25, 0.25, 0.5, 0.5])
    assert list(n) == [2, 2, 0] and keep.all()
    with pytest.raises(SampleForgeError, match="unknown rule"):
        fill_missing(acc, "zero")


def test_next_is_a_deprecated_alias_of_chain(capsys: pytest.CaptureFixture[str]) -> None:
    acc = np.array([[0.5, np.nan, np.nan, 1.0]])
    old = fill_missing(acc, "next")
    err = capsys.readouterr().err
    assert err == "warning: missing-epoch rule 'next' is deprecated; use 'chain'\n"
    for a, b in zip(old, fill_missing(acc, "chain")):
        np.testing.assert_array_equal(a, b)


def test_pass_mode_truncates_lim_to_the_common_passes() -> None:
    ids = ["a", "b"]
    sample = np.array([0, 0, 0, 1, 1], np.int32)
    step = np.array([5, 9, 20, 3, 30], np.int64)
    corr = np.array([0.0, 0.5, 1.0, 0.25, 0.75])
    m = build_matrix(ids, sample, step, np.ones(5), corr, by_pass=True)
    assert m.lim_epochs == 2
    np.testing.assert_array_equal(m.acc, [[0.0, 0.5, 1.0], [0.25, 0.75, np.nan]])
    sc = compute_scores(m.acc, m.lim_epochs)
    assert sc["n_epochs"].tolist() == [3, 2] and sc["last_acc"].tolist() == [1.0, 0.75]
    np.testing.assert_allclose(sc["lim"], lim_scores(m.acc[:, :2]))


def test_rule_parser() -> None:
    r = parse_rule("reward==1", {"reward": "reward", "acc": "reward"}, option="--correct")
    assert r.apply({"reward": np.array([1, -0.5, -1, 1.0, np.nan])}).tolist() == [
        True,
        False,
        False,
        True,
        False,
    ]
    r = parse_rule("acc > 0 and acc<=0.5 or acc==1", {"reward": "reward", "acc": "reward"}, option="x")
    assert r.apply({"reward": np.array([0, 0.25, 0.5, 0.75, 1])}).tolist() == [False, True, True, False, True]
    for bad in ("__import__('os').system('x')", "reward", "reward==abc", "lim>=0.6"):
        with pytest.raises(SampleForgeError, match="--correct"):
            parse_rule(bad, {"reward": "reward"}, option="--correct")
