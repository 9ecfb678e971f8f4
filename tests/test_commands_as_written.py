"""The commands the README and the user guide print work exactly as written: each one, taken from the
markdown's code blocks (so a doc change is tested), runs in a fresh directory, exits 0, writes its
default table, names that file in its summary and prints nothing but the summary (JSON lines only
with ``-o -``)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", REPO / "docs" / "user-guide.md"]

# command prefix as the docs print it -> the default table it must write
KNOWN = {
    "sample-forge score --trajectory runs/pilot": "scores.jsonl",
    "sample-forge synthesize --skills algebra,logic": "candidates.jsonl",
}


def _commands() -> dict[str, str]:
    """Every exact (one-line, no -o) spelling of the known commands in the docs' code blocks."""
    found: dict[str, str] = {}
    for doc in DOCS:
        for block in re.findall(r"```(?:bash|console|sh)?\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for line in block.splitlines():
                cmd = line.removeprefix("$ ").split("  #")[0].strip()
                if cmd in KNOWN:
                    found[cmd] = KNOWN[cmd]
    return found


def test_readme_prints_both_commands() -> None:
    readme = {k for k in _commands() if k in (REPO / "README.md").read_text()}
    assert readme == set(KNOWN)


def _run(cmd: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(cmd)
    assert argv[0] == "sample-forge"
    env = dict(os.environ, SAMPLE_FORGE_HOME=str(home), PYTHONPATH=str(REPO), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "sample_forge", *argv[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture
def user_cwd(tmp_path: Path) -> Path:
    """A fresh directory with ``runs/pilot`` as `sample-forge pilot` would leave it (the demo run)."""
    shutil.copytree(REPO / "data" / "demo" / "pilot", tmp_path / "runs" / "pilot")
    return tmp_path


def _check(res: subprocess.CompletedProcess[str], cwd: Path, table: str) -> None:
    assert res.returncode == 0, res.stderr[-2000:]
    assert (cwd / table).is_file() and (cwd / table).stat().st_size > 0
    assert table in res.stderr  # the summary names the file
    assert res.stdout.strip() == ""  # no table on the terminal; the summary is on stderr


def test_score_as_written(user_cwd: Path, isolated_user_dir: Path) -> None:
    cmd = next(c for c in _commands() if c.startswith("sample-forge score"))
    res = _run(cmd, user_cwd, isolated_user_dir)
    _check(res, user_cwd, "scores.jsonl")
    assert (user_cwd / "scores.report.json").is_file()
    assert len((user_cwd / "scores.jsonl").read_text().splitlines()) == _demo_samples()


def test_score_dash_out_is_json_lines_on_stdout(user_cwd: Path, isolated_user_dir: Path) -> None:
    import json

    res = _run("sample-forge score --trajectory runs/pilot -o -", user_cwd, isolated_user_dir)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(rows) == _demo_samples() and all("lim" in r for r in rows)
    assert "rows written to stdout" in res.stderr
    assert not (user_cwd / "scores.jsonl").exists()


@pytest.mark.slow
def test_synthesize_as_written(user_cwd: Path, isolated_user_dir: Path) -> None:
    cmd = next(c for c in _commands() if c.startswith("sample-forge synthesize"))
    res = _run(cmd, user_cwd, isolated_user_dir)
    assert "skill 'logic' -> 'logical reasoning' (catalog alias)" in res.stderr
    assert res.returncode == 0, res.stderr[-2000:]
    # SmolLM2's candidates may all be rejected for their content: the table can be empty, not absent
    assert (user_cwd / "candidates.jsonl").is_file()
    assert "accepted -> candidates.jsonl" in res.stderr
    assert res.stdout.strip() == ""


def _demo_samples() -> int:
    """The samples of the shipped demo pilot run (every one is scored: no epoch is missing)."""
    from sample_forge.paths import resource_path

    lines = resource_path("data/demo/pilot/trajectory.jsonl").read_text().splitlines()
    return len({json.loads(x)["sample_id"] for x in lines})
