"""The wheel carries prompts/ and data/: build it, install it (non-editable) into a fresh venv and
read a prompt and a data file from a directory outside the checkout."""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO


def _package_files(top: str) -> list[str]:
    base = REPO / top
    return sorted(
        str(p.relative_to(REPO))
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    )


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{' '.join(cmd)}\nstdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-3000:]}"
    return r


def test_wheel_installs_prompts_and_data(tmp_path):
    prompts = _package_files("prompts")
    data = _package_files("data")
    if not prompts or not data:
        pytest.fail(
            f"the package needs at least one prompt and one data file (prompts={prompts}, data={data})"
        )

    # 1. build (no isolation when hatchling is here, so no network is needed)
    dist = tmp_path / "dist"
    cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.insert(4, "--no-isolation")
    _run(cmd, cwd=tmp_path)
    wheels = list(dist.glob("sample_forge-*.whl"))
    assert len(wheels) == 1, wheels

    # 2. a fresh venv from this interpreter that sees this environment's packages (the dependencies)
    #    through a .pth file, but installs sample-forge itself from the wheel, non-editable
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp_path)
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    venv_site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path
        ).stdout.strip()
    )
    parent_sites = [
        p for p in {*site.getsitepackages(), sysconfig.get_paths()["purelib"]} if Path(p).is_dir()
    ]
    (venv_site / "_parent_env.pth").write_text("\n".join(parent_sites) + "\n")
    _run(
        [str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheels[0])], cwd=tmp_path
    )

    # 3. from an unrelated directory, with no checkout on the path
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    rel_prompt = prompts[0].removeprefix("prompts/")
    probe = (
        "import json, sample_forge\n"
        "from sample_forge.paths import read_prompt, resource_path\n"
        "from sample_forge.tables import read_rows\n"
        f"prompt = resource_path('prompts/{rel_prompt}')\n"
        f"files = {prompts + data!r}\n"
        "print(json.dumps({'pkg': sample_forge.__file__, 'prompt': str(prompt),\n"
        f"  'text': read_prompt('{rel_prompt}'),\n"
        "  'present': {f: resource_path(f).read_bytes().hex() for f in files}}))\n"
    )
    out = json.loads(_run([str(py), "-c", probe], cwd=work, env=env).stdout)
    pkg_dir = venv_site / "sample_forge"
    assert Path(out["pkg"]).parent == pkg_dir  # the installed copy, not the checkout
    assert pkg_dir / "prompts" in Path(out["prompt"]).parents  # site-packages/sample_forge/prompts
    assert out["text"] == (REPO / prompts[0]).read_text(encoding="utf-8")
    for f in prompts + data:  # every prompt and data file, byte for byte
        assert (pkg_dir / f).is_file(), f
        assert bytes.fromhex(out["present"][f]) == (REPO / f).read_bytes(), f

    # 4. the console script reads a packaged data table
    demo = "data/demo/pool.jsonl" if "data/demo/pool.jsonl" in data else None
    cli = venv / ("Scripts/sample-forge.exe" if os.name == "nt" else "bin/sample-forge")
    assert cli.exists()
    if demo:
        target = pkg_dir / demo
        r = _run(
            [str(cli), "pool", "--source", str(target), "--out", "p.jsonl", "--quiet"], cwd=work, env=env
        )
        rows = (work / "p.jsonl").read_text().splitlines()
        n_src = sum(1 for line in (REPO / demo).read_text().splitlines() if line.strip())
        assert len(rows) == n_src, r.stderr
    else:
        _run([str(cli), "--help"], cwd=work, env=env)
