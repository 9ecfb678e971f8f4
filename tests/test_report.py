"""The HTML report: self-contained, escaped, and rendered by a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sample_forge.forge.rundir import RunDir
from sample_forge.report import build_report
from sample_forge.tables import read_rows, write_rows

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


PAYLOAD = "<script>window.pwned = 1</script>"
WEAK = (
    "weak signal: mean accuracy below 0.05 at every epoch (0.010/0.020/0.020). LIM is then near 1 for "
    "samples the model never solves, so a pick by these scores is not evidence that a sample helps training"
)


def _make_forge_run(root: Path) -> RunDir:
    """A run directory as forge leaves it: markers with nested counts, the score report (weak pilot),
    a selection with a prime, candidates (one carrying a script payload), runs.jsonl, chosen.json."""
    run = _make_run(root)
    run.manifest.unlink()
    rows = read_rows(run.selection)
    rows[0]["problem"] = f"Find $x$ if {PAYLOAD} $x+1=2$."
    rows.append(dict(rows[0], id="s7", reason="lowest LIM >= 0.6 in Geometry", subject="Geometry"))
    write_rows(run.selection, rows)
    scores = read_rows(run.scores)
    for r in scores:
        r.update(lim_lo=r["lim"] - 0.1, lim_hi=min(1.0, r["lim"] + 0.05), top_share=None)
    next(r for r in scores if r["id"] == "s3").update(lim=0.6, lim_lo=0.55, lim_hi=0.7, top_share=0.4)
    write_rows(run.scores, scores)
    run.score_report.write_text(
        json.dumps(
            {
                "pilot": {
                    "signal": "weak",
                    "warning": WEAK,
                    "reasons": ["mean accuracy below 0.05 at every epoch (0.010/0.020/0.020)"],
                    "mean_curve": [0.01, 0.02, 0.02],
                    "rise": 0.01,
                    "never_solved": 18,
                    "always_solved": 0,
                    "never_solved_share": 0.9,
                    "always_solved_share": 0.0,
                    "rollouts_per_epoch": 4.0,
                },
                "uncertainty": {"resamples": 200, "interval_level": 0.9, "by": "lim", "top_k": 10},
            }
        )
    )
    write_rows(
        run.candidates,
        [
            {
                "id": "c1",
                "problem": "A ball falls 5 m. In how many seconds? (g = 10)",
                "accepted": True,
                "golden_answer": "1",
                "agreement": 1.0,
                "checks": [{"check": "form", "keep": True, "reason": "a single integer answer"}],
            }
        ],
    )
    write_rows(
        run.rejects,
        [
            {
                "id": "c2",
                "problem": f"How many {PAYLOAD} apples?",
                "accepted": False,
                "rejected_by": ["joint solving"],
                "reason": "solvers disagree",
                "checks": [
                    {"check": "parse", "keep": True, "reason": "ok"},
                    {"check": "form", "keep": True, "reason": "a single integer answer"},
                    {"check": "joint solving", "keep": False, "reason": "solvers disagree (agreement 0.25)"},
                ],
                "meta": {"raw": PAYLOAD},
            }
        ],
    )
    export_dir = run.export_dir
    for sid in ("s3", "s7"):
        d = export_dir / sid
        (d / "verl").mkdir(parents=True)
        (d / "manifest.json").write_text(
            json.dumps(
                {
                    "command": "sample-forge forge",
                    "version": "0.1.0",
                    "created": "2026-01-02T03:04:05+00:00",
                    "template": {"name": "qwen-boxed"},
                    "settings": {
                        "repeat": 128,
                        "trainers": ["verl"],
                        "source": "selection.jsonl",
                        "meta": {},
                    },
                    "files": [
                        {"trainer": "verl", "path": "verl/train.parquet", "rows": 128, "sha256": "ab12"}
                    ],
                    "trainer_commands": {"verl": f"python3 -m verl.trainer.main_ppo data.train_files={d}"},
                    "trainer_updates": {"verl": 140},
                }
            )
        )
    write_rows(
        run.runs_index,
        [
            {
                "id": sid,
                "ids": [sid],
                "rule": "polymath",
                "dir": sid,
                "manifest": f"{sid}/manifest.json",
                "rows": {"verl": 128},
                "updates": {"verl": 140},
                "commands": {"verl": "python3 -m verl"},
            }
            for sid in ("s3", "s7")
        ],
    )
    run.chosen.write_text(
        json.dumps(
            {
                "id": "s3",
                "rule": "polymath",
                "reason": "lowest LIM >= 0.6 in Algebra",
                "why": "no synthetic prime passed; the natural pick rule polymath ranks first",
                "runner_up": {"id": "s7", "rule": "polymath", "reason": "lowest LIM >= 0.6 in Geometry"},
                "n_chosen": 2,
                "dir": "export/s3",
                "manifest": "export/s3/manifest.json",
                "commands": {"verl": "python3 -m verl"},
                "updates": {"verl": 140},
            }
        )
    )
    run.recipe.write_text(
        json.dumps(
            {
                "select": {"rule": "polymath", "theta": 0.6},
                "score": {"trajectory": "demo"},
                "synthesize": {"enabled": True, "generators": ["local"], "solvers": ["local"]},
            }
        )
    )
    run.markers.mkdir()
    markers = {
        "pool": {"read": 20, "kept": 20, "no_answer": 0, "dropped": {}},
        "score": {"format": "native", "samples_scored": 20, "signal": "weak", "notes": []},
        "synthesize": {"generated": 2, "accepted": 1, "rejected": {"joint solving: solvers disagree": 1}},
        "select": {"chosen": 2, "prime": 0, "ids": ["s3", "s7"], "notes": ["no prime sample [select]"]},
        "export": {"runs": 2, "rows_per_run": [128], "chosen": "s3", "files": {"s3": {"verl": ["x"]}}},
    }
    for name, counts in markers.items():
        (run.markers / f"{name}.json").write_text(
            json.dumps({"stage": name, "counts": counts, "finished": "2026-01-02T03:04:05+00:00"})
        )
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
    _chromium(browser, profile, "--window-size=1200,2400", f"--screenshot={shot}", out.as_uri())
    assert shot.exists(), "chromium wrote no screenshot"
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape[0] >= 1000
    # not blank: many distinct grey levels and a real share of non-white pixels (text and figures)
    assert len(np.unique(img)) > 50
    assert (img < 200).mean() > 0.02
    # the figures are drawn: the curves image sits in the page; check the DOM with --dump-dom
    dom = _chromium(browser, Path(f"{profile}2"), "--dump-dom", out.as_uri()).stdout
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


def _visible_text(html: str) -> str:
    """The text a reader sees with every <details> closed (what a browser renders, minus tags)."""
    from html.parser import HTMLParser

    class P(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.out: list[str] = []
            self.hidden = 0  # inside <style>, or inside a closed <details> past its <summary>
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.stack.append(tag)
            if tag == "style" or (tag != "summary" and "details" in self.stack[:-1] and self.hidden == 0):
                self.hidden = len(self.stack)

        def handle_endtag(self, tag):
            if self.hidden and len(self.stack) == self.hidden:
                self.hidden = 0
            if self.stack:
                self.stack.pop()

        def handle_data(self, data):
            if not self.hidden:
                self.out.append(data)

    p = P()
    p.feed(html)
    return " ".join(p.out)


def test_report_summary_comes_first_and_says_what_the_result_means(tmp_path):
    run = _make_forge_run(tmp_path / "run")
    html = build_report(run.root).read_text()
    assert PAYLOAD not in html and "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html
    sections = re.findall(r'<section id="([a-z]+)"', html)
    assert sections == [
        "summary",
        "stages",
        "chosen",
        "candidates",
        "curves",
        "spectrum",
        "distributions",
        "export",
    ]
    summary = html[html.index('<section id="summary"') : html.index('<section id="stages"')]
    assert 'data-chosen-id="s3"' in summary and "first, of 2 chosen samples" in summary
    assert "lowest LIM &gt;= 0.6 in Algebra" in summary and "s7 (rule polymath)" in summary
    # the confidence: the chosen sample's interval, against theta, and its top-K share
    assert "LIM 0.600, 90% interval 0.550 to 0.700 (200 resamples)" in summary
    assert "reaches below θ = 0.6" in summary and "in the top 10 by lim in 40% of resamples" in summary
    assert summary.count('class="warning"') == 1 and WEAK in summary  # one synthetic candidate passed
    assert "Run a pilot with the model you will train" in summary
    # stages in plain words; each candidate's every check with its verdict and reason
    assert "dropped: none" in html and "<i>note:</i> no prime sample [select]" in html
    assert "rejected: joint solving: solvers disagree (1)" in html
    card = html[html.index('data-candidate-id="c2"') :]
    card = card[: card.index("</table>")]
    assert re.findall(r'<td class="(pass|fail)">', card) == ["pass", "pass", "fail"]
    assert "solvers disagree (agreement 0.25)" in card
    # the manifest folded away, with the files and the ready command line of the chosen run
    details = html[
        html.index('<details id="manifest">') : html.index(
            "</details>", html.index('<details id="manifest">')
        )
    ]
    assert "export/s3/manifest.json" in details and "verl/train.parquet" in details
    assert 'data-trainer="verl"' in details and "python3 -m verl.trainer.main_ppo" in details
    text = _visible_text(html)
    for repr_ in ("{'", "['", "[]", "{}", "': "):
        assert repr_ not in text, repr_


def _harness(tmp_path: Path, report: Path, height: int) -> Path:
    """A page that loads the report in a frame of one viewport and writes what it finds into the DOM:
    whether any script of the report ran, the summary's box, each section, the visible text."""
    page = tmp_path / "harness.html"
    page.write_text(
        f"""<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe src="{report.as_uri()}" width="1280" height="{height}" onload="
var w = this.contentWindow, d = this.contentDocument, box = d.getElementById('summary').getBoundingClientRect();
var secs = Array.prototype.map.call(d.querySelectorAll('section'), function (s) {{ return s.id; }});
var checks = Array.prototype.map.call(d.querySelectorAll('[data-candidate-id=c2] table.checks td.pass, [data-candidate-id=c2] table.checks td.fail'), function (t) {{ return t.textContent; }});
document.getElementById('result').textContent = JSON.stringify({{
  pwned: typeof w.pwned, top: box.top, bottom: box.bottom, viewport: w.innerHeight, sections: secs,
  checks: checks, images: d.querySelectorAll('img[src^=&quot;data:image/png;base64,&quot;]').length,
  details_open: d.getElementById('manifest').open, text: d.body.innerText}});
"></iframe></body></html>"""
    )
    return page


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
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
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_in_headless_chromium_summary_on_top_and_no_script_runs(tmp_path):
    browser = _browser()
    run = _make_forge_run(tmp_path / "run")
    report = build_report(run.root)
    shot = tmp_path / "report-top.png"  # kept under tmp for a look: the first viewport
    _chromium(browser, tmp_path / "p1", "--window-size=1280,900", f"--screenshot={shot}", report.as_uri())
    assert shot.exists(), "chromium wrote no screenshot"
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    assert img.shape[:2] == (900, 1280)
    # the summary box's light blue background (#f6fbff) fills a real part of the first viewport
    assert (np.abs(img - [246, 251, 255]).sum(axis=2) < 6).mean() > 0.15
    # the DOM, read by a frame of one viewport (file pages share an origin only with this flag)
    page = _harness(tmp_path, report, 900)
    dom = _chromium(
        browser,
        tmp_path / "p2",
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ).stdout
    m = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert m and m.group(1) != "pending", dom[-2000:]
    import html as html_mod

    got = json.loads(html_mod.unescape(m.group(1)))
    assert got["pwned"] == "undefined"  # the payload in a problem and a model reply did not run
    assert 0 <= got["top"] < got["bottom"] <= got["viewport"] == 900  # the whole summary in view
    assert got["sections"] == [
        "summary",
        "stages",
        "chosen",
        "candidates",
        "curves",
        "spectrum",
        "distributions",
        "export",
    ]
    assert got["checks"] == ["pass", "pass", "fail"] and got["images"] == 4
    assert got["details_open"] is False
    text = got["text"]
    assert PAYLOAD in text  # shown as text
    assert "Train on s3 first" in text and "Warning: weak signal" in text
    for repr_ in ("{'", "['", "[]", "{}", "': "):
        assert repr_ not in text, repr_


def test_weak_signal_reaches_select_reasons_and_the_terminal_summary(tmp_path):
    from sample_forge.forge.outcome import outcome_lines, run_outcome
    from sample_forge.selection import SelectConfig, select

    run = _make_forge_run(tmp_path / "run")
    write_rows(
        run.pool,
        [{"id": f"s{i}", "problem": f"p{i}", "answer": "1", "subject": "Algebra"} for i in range(20)],
    )
    cfg = SelectConfig(rule="polymath", theta=0.6)
    warned = select(cfg, pool=run.pool, scores=run.scores).rows
    assert warned and all(
        r["reason"].endswith(
            "; warning: weak pilot signal: mean accuracy below 0.05 at every epoch (0.010/0.020/0.020) "
            "(scores.report.json)"
        )
        for r in warned
    )
    run.score_report.unlink()  # a scores table from another tool: no report, no warning
    assert not any("warning" in r["reason"] for r in select(cfg, pool=run.pool, scores=run.scores).rows)

    run = _make_forge_run(tmp_path / "run2")
    lines = outcome_lines(run_outcome(run.root))
    assert lines[0].startswith("pilot signal: weak: mean accuracy 0.010 → 0.020 → 0.020")
    assert f"WARNING: {WEAK}" in lines and "next:" in lines
    assert any(line.startswith("confidence: low: the pilot's signal is weak (LIM 0.600") for line in lines)
