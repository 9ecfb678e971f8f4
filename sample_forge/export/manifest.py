"""The manifest written next to the exported files: what went in (ids, scores, skills, template), what
came out (every file with its sha256), and how (tool version, exact command)."""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from sample_forge import __version__
from sample_forge.tables import atomic_write

__all__ = ["sha256_file", "build_manifest", "write_manifest", "MANIFEST_NAME"]

MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_manifest(
    *,
    out_dir: Path,
    samples: Sequence[Mapping[str, Any]],
    files: Mapping[str, list[Path]],
    rows: Mapping[Path, int | None],
    template: Mapping[str, Any],
    settings: Mapping[str, Any],
    command: str,
    commands: Mapping[str, str],
    updates: Mapping[str, int],
    notes: Sequence[str],
) -> dict[str, Any]:
    return {
        "tool": "sample-forge",
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "template": dict(template),
        "settings": dict(settings),
        "samples": list(samples),
        "files": [
            {
                "trainer": t,
                "path": str(p.relative_to(out_dir)),
                "rows": rows[p],
                "bytes": p.stat().st_size,
                "sha256": sha256_file(p),
            }
            for t, paths in files.items()
            for p in paths
        ],
        "trainer_commands": dict(commands),
        "trainer_updates": dict(updates),
        "notes": list(notes),
    }


def write_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> Path:
    path = out_dir / MANIFEST_NAME
    with atomic_write(path, "wb") as f:
        f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return path
