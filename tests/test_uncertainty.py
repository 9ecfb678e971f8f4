"""Error bars, rank stability and the pilot verdict (impact/uncertainty.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.impact.run import ScoreConfig, score_run
from sample_forge.impact.scores import compute_scores
from sample_forge.impact.simulate import SimConfig, simulate_accuracy
from sample_forge.impact.uncertainty import (
    UncertaintyConfig,
    diagnose,
    infer_rollouts,
    pilot_verdict,
    resample_scores,
)

STATS = ("lim", "hist_var", "learnability")


def _resample(correct: np.ndarray, rollouts: np.ndarray, **kw):  # type: ignore[no-untyped-def]
    acc = correct / rollouts
    sc = compute_scores(acc)
    order = np.lexsort((np.arange(len(acc)), -sc["lim"]))
    cfg = UncertaintyConfig(**{"resamples": 300, **kw})
    return sc, order, resample_scores(correct, rollouts, sc, order, cfg=cfg)


@pytest.fixture(scope="module")
def sim() -> tuple[np.ndarray, np.ndarray]:
    c, _, _ = simulate_accuracy(SimConfig(samples=300, epochs=8, rollouts=8, seed=3))
    return c.astype(float), np.full(c.shape, 8.0)


def test_intervals_contain_the_point_estimate(sim: tuple[np.ndarray, np.ndarray]) -> None:
    sc, _, u = _resample(*sim)
    for s in STATS:
        assert np.all(u.lo[s] <= sc[s] + 1e-12) and np.all(sc[s] <= u.hi[s] + 1e-12), s
        assert np.mean(u.hi[s] - u.lo[s]) > 0, s
    assert np.all(u.hi["lim"] <= 1) and np.all(u.lo["hist_var"] >= 0) and np.all(u.hi["learnability"] <= 0.25)


def test_intervals_shrink_with_more_rollouts(sim: tuple[np.ndarray, np.ndarray]) -> None:
    c, _ = sim
    acc = np.round(c / 8 * 4) / 4  # accuracies that 4 rollouts can show
    widths = {}
    for n in (4, 64):
        _, _, u = _resample(acc * n, np.full(acc.shape, float(n)))
        widths[n] = {s: float(np.median(u.hi[s] - u.lo[s])) for s in STATS}
    for s in STATS:
        assert widths[64][s] < 0.5 * widths[4][s], (s, widths)


def test_seeded_resampling_is_reproducible(sim: tuple[np.ndarray, np.ndarray]) -> None:
    _, _, a = _resample(*sim, seed=7)
    _, _, b = _resample(*sim, seed=7, workers=1)  # threads do not change the draws either
    _, _, c = _resample(*sim, seed=8)
    for s in STATS:
        assert np.array_equal(a.lo[s], b.lo[s]) and np.array_equal(a.hi[s], b.hi[s])
    assert np.array_equal(a.top_share, b.top_share, equal_nan=True)
    assert not np.array_equal(a.lo["lim"], c.lo["lim"])


def test_never_and_always_solved_samples() -> None:
    rng = np.random.default_rng(0)
    c = rng.binomial(8, np.linspace(0.2, 0.8, 40)[:, None] * np.ones(6)).astype(float)
    c[0] = 0  # never solved
    c[1] = 8  # always solved
    sc, _, u = _resample(c, np.full(c.shape, 8.0))
    for i in (0, 1):
        assert sc["hist_var"][i] == 0 and sc["learnability"][i] == 0
        for s in STATS:
            assert np.isfinite(u.lo[s][i]) and np.isfinite(u.hi[s][i])
            assert u.lo[s][i] <= sc[s][i] <= u.hi[s][i]
        # 0 (or 8) of 8 at every epoch is not proof the accuracy is exactly 0 (or 1)
        assert u.lo["hist_var"][i] == 0 and 0 < u.hi["hist_var"][i] < 0.05
        assert 0 < u.hi["learnability"][i] < 0.15
    d = diagnose(c / 8, np.full(c.shape, 8.0), sc["lim"])
    assert d["never_solved"] == 1 and d["always_solved"] == 1 and d["rollouts_per_epoch"] == 8


def test_a_clearly_separated_top_sample_stays_on_top() -> None:
    rng = np.random.default_rng(1)
    c = rng.binomial(32, 0.5, size=(50, 10)).astype(float)
    c[7] = np.array([0, 32] * 5)  # by far the largest variance
    acc = c / 32
    sc = compute_scores(acc)
    order = np.argsort(-sc["hist_var"], kind="stable")
    u = resample_scores(
        c, np.full(c.shape, 32.0), sc, order, by="hist_var", cfg=UncertaintyConfig(resamples=200)
    )
    assert order[0] == 7 and u.top_share[7] == 1.0 and u.report["p_rank1"] == 1.0
    assert np.isnan(u.top_share[order[10:]]).all() and (u.top_share[order[:10]] <= 1).all()


def test_oneshot_granularity_is_inferred() -> None:
    assert infer_rollouts(np.array([0, 0.125, 0.5, 0.875, 1])) == 8
    assert infer_rollouts(np.array([0, 0.25, 0.75])) == 4
    assert infer_rollouts(np.array([0.0, 1.0])) == 1
    assert infer_rollouts(np.array([0.3141592])) is None


def _oneshot(tmp_path: Path, values: dict[str, list[float]]) -> Path:
    p = tmp_path / "acc_step_10.json"
    p.write_text(json.dumps(values))
    return p


def test_oneshot_log_rollouts_inferred_or_given(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    log = _oneshot(tmp_path, {str(i): list(rng.integers(0, 9, 12) / 8) for i in range(30)})
    res = score_run(log, ScoreConfig(resamples=100))
    assert "1/8" in res.report["uncertainty"]["rollouts"] and res.report["pilot"]["rollouts_per_epoch"] == 8
    given = score_run(log, ScoreConfig(resamples=100, rollouts_per_epoch=64))
    assert "--rollouts-per-epoch" in given.report["uncertainty"]["rollouts"]
    width = {
        k: np.median([r["hist_var_hi"] - r["hist_var_lo"] for r in x.rows])
        for k, x in (("8", res), ("64", given))
    }
    assert width["64"] < width["8"]


def _weak_run(d: Path) -> Path:
    """A native pilot log shaped like the first demo pilot (SmolLM2-135M at lr 1e-6): 35 samples x
    3 epochs x 4 rollouts, mean accuracy 0.014 / 0.036 / 0.029, 31 samples never solved."""
    solved = {0: [(0, 2)], 1: [(0, 3), (1, 2)], 2: [(0, 1), (2, 2), (3, 1)]}  # epoch -> (sample, correct)
    rows = []
    for e in range(3):
        hits = dict(solved[e])
        for i in range(35):
            c = hits.get(i, 0)
            rows.append(
                {
                    "sample_id": f"s{i:02d}",
                    "step": e + 1,
                    "epoch": e + 1,
                    "rollouts": 4,
                    "correct": c,
                    "rewards": [1.0] * c + [0.0] * (4 - c),
                }
            )
    d.mkdir(parents=True)
    (d / "trajectory.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_strong_signal_is_ok_weak_pilot_is_weak(tmp_path: Path) -> None:
    c, _, _ = simulate_accuracy(SimConfig(samples=200, epochs=8, rollouts=8, seed=0))
    d = diagnose(c / 8, np.full(c.shape, 8.0), compute_scores(c / 8)["lim"])
    ok, text = pilot_verdict({"pilot": d})
    assert ok and d["signal"] == "ok" and text.startswith("signal ok") and d["rise"] > 0.1

    demo = _weak_run(tmp_path / "weak")
    res = score_run(demo, ScoreConfig(resamples=200))
    ok, text = pilot_verdict(res.report)
    assert not ok and res.report["pilot"]["signal"] == "weak"
    assert "LIM is then near 1 for samples the model never solves" in text and "not evidence" in text
    assert res.report["pilot"]["mean_curve"] == [0.0143, 0.0357, 0.0286]
    assert res.report["pilot"]["never_solved"] == 31
    # the verdict reaches the terminal and the table's report file
    out = tmp_path / "scores.jsonl"
    r = CliRunner().invoke(cli, ["score", "-t", str(demo), "-o", str(out), "--resamples", "100"])
    assert r.exit_code == 0, r.output
    assert "weak signal" in r.output
    rep = json.loads((tmp_path / "scores.report.json").read_text())
    assert pilot_verdict(rep) == (False, text)
    row = json.loads(out.read_text().splitlines()[0])
    cols = [
        "lim_lo",
        "lim_hi",
        "hist_var_lo",
        "hist_var_hi",
        "learnability_lo",
        "learnability_hi",
        "top_share",
    ]
    assert list(row)[-7:] == cols and row["lim_lo"] <= row["lim"] <= row["lim_hi"]


def test_resamples_zero_turns_error_bars_off(tmp_path: Path) -> None:
    res = score_run(_weak_run(tmp_path / "weak"), ScoreConfig(resamples=0))
    assert "lim_lo" not in res.rows[0] and res.report["uncertainty"] == {"resamples": 0}
    assert res.report["pilot"]["signal"] == "weak"
