"""Resumable stages: each stage writes its outputs and a completion marker holding a fingerprint of
its settings and the content of its inputs. A re-run skips a stage whose fingerprint is unchanged
and whose outputs still exist (datatrove-style completion markers)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_forge import __version__
from sample_forge.tables import atomic_write

__all__ = ["Stage", "StageOutcome", "run_stage", "fingerprint", "missing_inputs"]


@dataclass(frozen=True)
class Stage:
    """One step of a run. ``run`` does the work and returns counts to record in the marker."""

    name: str
    inputs: Sequence[Path]
    settings: dict[str, Any]
    outputs: Sequence[Path]
    run: Callable[[], dict[str, Any]]


@dataclass
class StageOutcome:
    name: str
    skipped: bool
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the stage in this invocation (0 when skipped)


def _hash_path(h: Any, p: Path) -> None:
    if p.is_dir():
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(str(f.relative_to(p)).encode())
            _hash_path(h, f)
    elif p.exists():
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    else:
        h.update(b"<missing>")


def fingerprint(stage: Stage) -> str:
    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(json.dumps(stage.settings, sort_keys=True, default=str).encode())
    for p in stage.inputs:
        h.update(b"\0input\0")
        _hash_path(h, Path(p))
    return h.hexdigest()


def missing_inputs(stages: Sequence[Stage]) -> list[tuple[str, Path]]:
    """(stage, path) for every input that does not exist and that no earlier stage writes: what a
    dry run must name before anything runs."""
    made: set[Path] = set()
    missing = []
    for st in stages:
        missing += [(st.name, Path(p)) for p in st.inputs if Path(p) not in made and not Path(p).exists()]
        made.update(Path(p) for p in st.outputs)
    return missing


def run_stage(
    stage: Stage,
    markers: Path,
    *,
    force: bool = False,
    on_start: Callable[[Stage], None] | None = None,
) -> StageOutcome:
    """Run ``stage`` unless its marker is current; ``on_start`` is told before a stage really runs."""
    marker = markers / f"{stage.name}.json"
    fp = fingerprint(stage)
    if not force and marker.exists():
        try:
            old = json.loads(marker.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("fingerprint") == fp and all(Path(o).exists() for o in stage.outputs):
            return StageOutcome(stage.name, skipped=True, counts=old.get("counts", {}))
    marker.unlink(missing_ok=True)  # a stage that dies half-way must not look finished
    if on_start is not None:
        on_start(stage)
    t0 = time.monotonic()
    counts = stage.run()
    seconds = time.monotonic() - t0
    markers.mkdir(parents=True, exist_ok=True)
    with atomic_write(marker, "w") as f:
        json.dump(
            {
                "stage": stage.name,
                "fingerprint": fp,
                "counts": counts,
                "outputs": [str(o) for o in stage.outputs],
                "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            },
            f,
            indent=2,
            default=str,
        )
    return StageOutcome(stage.name, skipped=False, counts=counts, seconds=seconds)
