"""Every file written beside a table has one name rule, ``<stem>.<kind>.jsonl``; a failures file or
spend ledger a restarted command reads back is still found under its old name, with one warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_forge.cli.common import side_path
from sample_forge.impact.score_report import report_path
from sample_forge.join import rejects_path
from sample_forge.join import side_path as beside


@pytest.mark.parametrize(
    ("out", "kind", "ext", "want"),
    [
        ("scores.jsonl", "rejects", ".jsonl", "scores.rejects.jsonl"),
        ("tags.parquet", "failures", ".jsonl", "tags.failures.jsonl"),
        ("d/rates.jsonl", "calibration", ".json", "d/rates.calibration.json"),
        ("noext", "spent", ".jsonl", "noext.spent.jsonl"),
    ],
)
def test_one_rule(out: str, kind: str, ext: str, want: str) -> None:
    assert beside(out, kind, ext) == Path(want)
    assert side_path(out, kind, "default.jsonl", ext) == want


def test_rejects_report_and_stdout_follow_it() -> None:
    assert rejects_path("sel.parquet") == Path("sel.rejects.jsonl")
    assert report_path("scores.csv") == Path("scores.report.json")
    assert side_path("-", "failures", "tags.jsonl") == "tags.failures.jsonl"


def test_old_name_is_read_back_with_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tags.jsonl"
    old = tmp_path / "tags.jsonl.spent.jsonl"
    old.write_text('{"usd": 1.0}\n')
    assert side_path(out, "spent", "tags.jsonl", resumed=True) == str(old)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: the side file name {old} is deprecated; use ")
    # a file nobody reads back (rejects) is written under the new name only
    (tmp_path / "tags.jsonl.rejects.jsonl").write_text("")
    assert side_path(out, "rejects", "tags.jsonl") == str(tmp_path / "tags.rejects.jsonl")
    # once the new one exists, it wins
    (tmp_path / "tags.spent.jsonl").write_text("")
    assert side_path(out, "spent", "tags.jsonl", resumed=True) == str(tmp_path / "tags.spent.jsonl")
    assert capsys.readouterr().err == ""
