"""Build one self-contained HTML file (figures inlined as base64 PNG) from a forge run directory.
Every string from the data goes through Jinja2's autoescape."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge import __version__
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.forge.rundir import RunDir
from sample_forge.report import figures
from sample_forge.subjects import CATEGORIES
from sample_forge.tables import atomic_write, read_rows

__all__ = ["build_report"]


def _rows(path: Path) -> list[dict[str, Any]]:
    return read_rows(path) if path.exists() else []


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=str(path), line=e.lineno) from None


def _num(v: Any) -> Any:
    """Floats to 4 significant digits for reading; everything else as is (and still escaped)."""
    return f"{v:.4g}" if isinstance(v, float) else v


def _b64(png: bytes | None) -> str | None:
    return base64.b64encode(png).decode() if png else None


def _curves(run: RunDir, chosen_ids: list[str], scores: list[dict[str, Any]]) -> bytes | None:
    rows = _rows(run.curves)
    if not rows:
        return None
    acc = {str(r["id"]): r["acc"] for r in rows}
    mean = acc.pop("__mean__", None)
    if mean is None:
        mean = list(np.nanmean(np.array(list(acc.values()), dtype=float), axis=0))
    chosen = {i: acc[i] for i in chosen_ids if i in acc}
    # "typical": the samples at the median LIM (or the first few when there are no scores)
    typical_ids: list[str] = []
    ranked = sorted(
        (s for s in scores if s.get("lim") is not None and str(s["id"]) in acc), key=lambda s: s["lim"]
    )
    if ranked:
        mid = len(ranked) // 2
        typical_ids = [str(s["id"]) for s in ranked[max(0, mid - 1) : mid + 2]]
    typical = {i: acc[i] for i in typical_ids if i not in chosen}
    return figures.curves_png(mean, chosen, typical)


def build_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    png_dir: str | Path | None = None,
    threshold: float = 0.6,
) -> Path:
    """Write ``report.html`` (or ``out``) for a run directory; ``png_dir`` also saves the figures."""
    run = RunDir(Path(run_dir))
    if not run.root.is_dir():
        raise SampleForgeError(f"{run.root}: not a run directory")
    known = (
        run.pool,
        run.tags,
        run.scores,
        run.curves,
        run.selection,
        run.candidates,
        run.rejects,
        run.manifest,
        run.chosen,
        run.markers,
    )
    if not any(p.exists() for p in known):
        raise SampleForgeError(
            f"{run.root}: not a run directory (none of pool.parquet, tags.jsonl, "
            f"scores.jsonl, selection.jsonl, candidates.jsonl, export/ in it)"
        )
    import jinja2

    tags = _rows(run.tags)
    scores = _rows(run.scores)
    selection = _rows(run.selection)
    candidates = _rows(run.candidates) + _rows(run.rejects)
    # a run per sample: the report shows the chosen sample's run (chosen.json names its manifest)
    mpath = run.root / _json(run.chosen)["manifest"] if run.chosen.exists() else run.manifest
    manifest = _json(mpath) if mpath.exists() else None
    stages = []
    if run.markers.is_dir():
        for m in sorted(run.markers.glob("*.json"), key=lambda p: p.stat().st_mtime):
            d = _json(m)
            if not isinstance(d, dict):
                raise InputError("a stage marker must be a JSON object", path=str(m))
            stages.append({"name": m.stem, "finished": d.get("finished", ""), "counts": d.get("counts", {})})

    chosen_ids = [str(r["id"]) for r in selection]
    pngs: dict[str, bytes | None] = {
        "spectrum": figures.skill_spectrum_png(tags, CATEGORIES),
        "curves": _curves(run, chosen_ids, scores),
        "lim": figures.distribution_png(
            [s.get("lim") for s in scores], name="LIM score", threshold=threshold
        ),
        "hist_var": figures.distribution_png([s.get("hist_var") for s in scores], name="historical variance"),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sample_forge", "report"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["num"] = _num
    html = env.get_template("template.html.j2").render(
        title=run.root.name,
        run_dir=str(run.root),
        version=__version__,
        written=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        stages=stages,
        chosen=selection,
        candidates=candidates,
        manifest=json.dumps(manifest, indent=2, ensure_ascii=False) if manifest else None,
        fig_spectrum=_b64(pngs["spectrum"]),
        fig_curves=_b64(pngs["curves"]),
        fig_dists=[(k, _b64(pngs[k])) for k in ("lim", "hist_var") if pngs[k]],
    )
    out_path = Path(out) if out else run.report
    with atomic_write(out_path, "w") as f:
        f.write(html)
    if png_dir is not None:
        d = Path(png_dir)
        d.mkdir(parents=True, exist_ok=True)
        for name, png in pngs.items():
            if png:
                (d / f"{name}.png").write_bytes(png)
    return out_path
