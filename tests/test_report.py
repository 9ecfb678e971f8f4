"""The HTML report: self-contained, escaped, and rendered by a real headless browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sample_forge.forge.rundir import RunDir
from sample_forge.report import build_report
from sample_forge.tables import write_rows

EVIL = '<script>alert("x")</script>'


def _make_run(root: Path) -> RunDir:
    run = RunDir(root)
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(20)]
    curves = {i: list(np.clip(np.linspace(0.1, 0.9, 6) + rng.normal(0, 0.1, 6), 0, 1)) for i in ids}
    mean = list(np.mean(np.array(list(curves.values())), axis=0))
    write_rows(
        run.curves, [{"id": i, "acc": a} for i, a in curves.items()] + [{"id": "__mean__", "acc": mean}]
    )
    write_rows(
        run.scores,
        [{"id": i, "lim": float(rng.uniform(0.2, 1)), "hist_var": float(rng.uniform(0, 0.1))} for i in ids],
    )
    write_rows(
        run.tags,
        [{"problem_id": i, "spectrum": {"Algebra": int(rng.integers(0, 4)), "Geometry": 1}} for i in ids],
    )
    write_rows(
        run.selection,
        [
            {
                "id": "s3",
                "problem": f"Find $x$ if {EVIL} $x+1=2$.",
                "answer": "1",
                "subject": "Algebra",
                "level": 2,
                "rule": "polymath",
                "reason": "lowest LIM >= 0.6 in Algebra",
                "scores": {"lim": 0.6},
            }
        ],
    )
    write_rows(
        run.candidates,
        [
            {
                "id": "c1",
                "problem": EVIL,
                "accepted": False,
                "golden_answer": None,
                "checks": [{"check": "form", "keep": False, "reason": "answer stated"}],
            }
        ],
    )
    run.export_dir.mkdir(parents=True)
    run.manifest.write_text(json.dumps({"files": {"verl/train.parquet": "abc"}, "note": EVIL}))
    return run


def test_report_is_self_contained_and_escaped(tmp_path):
    run = _make_run(tmp_path / "run")
    out = build_report(run.root, png_dir=tmp_path / "png")
    html = out.read_text()
    assert EVIL not in html  # every data string is escaped
    assert "&lt;script&gt;" in html
    assert html.count("data:image/png;base64,") == 4  # spectrum, curves, LIM and variance
    assert 'data-sample-id="s3"' in html
    assert "lowest LIM &gt;= 0.6 in Algebra" in html
    assert 'src="http' not in html and 'href="http' not in html  # nothing fetched from the network
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "curves.png",
        "hist_var.png",
        "lim.png",
        "spectrum.png",
    ]


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    pytest.skip("no headless chromium on this machine (Debian package 'chromium'; .ci/run installs it)")


def test_report_renders_in_headless_chromium(tmp_path):
    browser = _browser()
    run = _make_run(tmp_path / "run")
    out = build_report(run.root)
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        "--window-size=1200,2400",
        f"--screenshot={shot}",
        out.as_uri(),
    ]
    subprocess.run(cmd, check=False, capture_output=True, timeout=120)
    assert shot.exists(), "chromium wrote no screenshot"
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape[0] >= 1000
    # not blank: many distinct grey levels and a real share of non-white pixels (text and figures)
    assert len(np.unique(img)) > 50
    assert (img < 200).mean() > 0.02
    # the figures are drawn: the curves image sits in the page; check the DOM with --dump-dom
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={profile}2",
            "--dump-dom",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'alt="learning curves"' in dom and "s3" in dom
    assert "<script>alert" not in dom


def test_corrupt_run_files_are_one_input_error(tmp_path: Path) -> None:
    from sample_forge.errors import InputError

    run = _make_run(tmp_path / "run")
    run.manifest.write_text('{"files": ')
    with pytest.raises(InputError) as e:
        build_report(run.root)
    assert e.value.path == str(run.manifest) and "not valid JSON" in str(e.value)
    run.manifest.unlink()
    run.markers.mkdir()
    (run.markers / "pool.json").write_text("[1]")
    with pytest.raises(InputError, match="must be a JSON object"):
        build_report(run.root)


def test_a_directory_without_run_files_is_refused(tmp_path: Path) -> None:
    from sample_forge.errors import SampleForgeError

    with pytest.raises(SampleForgeError, match="not a run directory"):
        build_report(tmp_path)
    assert not (tmp_path / "report.html").exists()
