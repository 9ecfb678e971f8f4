"""The shipped demo pilot run (data/demo/pilot/) carries a learning signal that the scores can measure:
accuracy rises over the epochs, historical variance spreads, most samples are solved at least once, and
the polymath rule picks samples that were solved in some epochs and failed in others (not tie-breaks
among never-solved problems). The thresholds sit below the measured values of the shipped run
(docs/demo-data.md, "The demo pilot run") with a margin."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "data" / "demo" / "pilot"
POOL = ROOT / "data" / "demo" / "pool.jsonl"

MIN_RISE = 0.04  # mean accuracy, last epoch minus first
MIN_SPREAD = 8  # samples with hist_var above SPREAD_VAR
SPREAD_VAR = 0.02
MIN_MIXED_PICKS = 5  # of the 7 polymath picks: solved in some epochs, failed in others


@pytest.fixture(scope="module")
def per_epoch() -> dict[str, dict[int, float]]:
    """Each sample's accuracy per epoch, read straight from the native trajectory."""
    acc: dict[str, dict[int, float]] = defaultdict(dict)
    with (RUN / "trajectory.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            acc[r["sample_id"]][r["epoch"]] = r["correct"] / r["rollouts"]
    return dict(acc)


@pytest.fixture(scope="module")
def summary() -> dict:
    return json.loads((RUN / "pilot.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[list[dict], list[dict]]:
    """`score` of the shipped run and `select --rule polymath` over the shipped pool, as a user runs them."""
    d = tmp_path_factory.mktemp("demo-pilot")
    scores, chosen = d / "scores.jsonl", d / "chosen.jsonl"
    runner = CliRunner()
    res = runner.invoke(cli, ["score", "-t", str(RUN), "--pool", str(POOL), "-o", str(scores)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli, ["select", str(POOL), "--scores", str(scores), "--rule", "polymath", "-o", str(chosen)]
    )
    assert res.exit_code == 0, res.output
    read = lambda p: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]  # noqa: E731
    return read(scores), read(chosen)


def test_run_is_complete_and_balanced(summary: dict, per_epoch: dict) -> None:
    assert summary["status"] == "complete" and summary["pool"] == "data/demo/pool.jsonl"
    epochs = summary["epochs"]
    assert epochs >= 3 and all(sorted(e) == list(range(1, epochs + 1)) for e in per_epoch.values())
    assert len(per_epoch) == summary["n_samples"] == 7 * summary["per_subject"]


def test_mean_accuracy_rises(summary: dict, per_epoch: dict) -> None:
    epochs = summary["epochs"]
    mean = [sum(a[e] for a in per_epoch.values()) / len(per_epoch) for e in range(1, epochs + 1)]
    assert mean == pytest.approx([summary["epoch_accuracy"][str(e)] for e in range(1, epochs + 1)], abs=1e-5)
    assert mean[-1] - mean[0] >= MIN_RISE, mean


def test_most_samples_are_solved_sometimes(per_epoch: dict) -> None:
    never = [s for s, a in per_epoch.items() if not any(a.values())]
    assert len(never) < len(per_epoch) / 2, never


def test_historical_variance_spreads(scored) -> None:
    scores, _ = scored
    spread = [r["id"] for r in scores if r["hist_var"] > SPREAD_VAR]
    assert len(spread) >= MIN_SPREAD, sorted(r["hist_var"] for r in scores)
    assert len({round(r["lim"], 3) for r in scores}) >= MIN_SPREAD  # LIM is not one tie any more


def test_polymath_picks_samples_with_mixed_epochs(scored, per_epoch: dict) -> None:
    _, chosen = scored
    assert len(chosen) == 7 and len({c["subject"] for c in chosen}) == 7
    mixed = [
        c["id"]
        for c in chosen
        if any(a > 0 for a in per_epoch[c["id"]].values())
        and any(a == 0 for a in per_epoch[c["id"]].values())
    ]
    assert len(mixed) >= MIN_MIXED_PICKS, {c["id"]: per_epoch[c["id"]] for c in chosen}
