"""The library never imports the CLI: every module of ``sample_forge`` outside ``cli/`` imports
without pulling in ``sample_forge.cli`` (progress reaches the terminal through callbacks the CLI
passes in)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = r"""
import importlib, json, os, pkgutil, sys
import sample_forge


def names(path, prefix):
    # pkgutil.walk_packages imports every package to look inside, cli/ too: walk the folders instead
    for mod in pkgutil.iter_modules([path], prefix):
        if mod.name in ("sample_forge.cli", "sample_forge.__main__"):
            continue
        yield mod.name
        if mod.ispkg:
            yield from names(os.path.join(path, mod.name.rsplit(".", 1)[1]), mod.name + ".")


leaks, failed = {}, {}
for name in names(sample_forge.__path__[0], "sample_forge."):
    try:
        importlib.import_module(name)
    except Exception as e:  # a module that cannot import hides what it would import
        failed[name] = f"{type(e).__name__}: {e}"
    cli = sorted(m for m in sys.modules if m == "sample_forge.cli" or m.startswith("sample_forge.cli."))
    if cli:
        leaks[name] = cli
        break
print(json.dumps({"leaks": leaks, "failed": failed, "imported": sorted(sys.modules)}))
"""


def test_no_library_module_imports_the_cli():
    res = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["failed"] == {}
    assert {"sample_forge.llm.base", "sample_forge.pilot.trl_pilot", "sample_forge.forge.run"} <= set(
        got["imported"]
    )
    assert got["leaks"] == {}, f"imports the CLI: {got['leaks']}"


def test_no_library_source_imports_the_cli_even_inside_a_function():
    """Imports inside functions run only when called; read every module's source for them too."""
    import ast
    from pathlib import Path

    import sample_forge

    root = Path(sample_forge.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [
                f"{rel}:{node.lineno} {m}"
                for m in mods
                if m == "sample_forge.cli" or m.startswith("sample_forge.cli.")
            ]
    assert found == []
