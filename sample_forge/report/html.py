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
from sample_forge.forge.chosen import rank_chosen
from sample_forge.forge.rundir import RunDir
from sample_forge.report import figures
from sample_forge.report.words import plain, stage_facts
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


def _b64(png: bytes | None) -> str | None:
    return base64.b64encode(png).decode() if png else None


_INTERVAL_SCORES = ("lim", "hist_var", "learnability")
_POINT_SCORES = ("mean_acc", "first_acc", "last_acc", "n_epochs", "filled_epochs", "rank")


def _curves(
    run: RunDir,
    chosen_ids: list[str],
    scores: list[dict[str, Any]],
    *,
    level: float,
    rollouts_per_epoch: float | None,
) -> bytes | None:
    rows = _rows(run.curves)
    if not rows:
        return None
    acc = {str(r["id"]): r["acc"] for r in rows}
    n = {str(r["id"]): r["rollouts"] for r in rows if r.get("rollouts") is not None}
    mean = acc.pop("__mean__", None)
    if mean is None:
        mean = list(np.nanmean(np.array(list(acc.values()), dtype=float), axis=0))
    # a prompt-keyed log knows a sample by its log id; the tables by the pool's
    log_of = {str(s["id"]): str(s.get("log_id") or s["id"]) for s in scores}
    by_id = {str(s["id"]): s for s in scores}
    chosen, labels = {}, {}
    for i in chosen_ids:
        key = log_of.get(i, i)
        if key not in acc:
            continue
        chosen[i] = acc[key]
        if key not in n and rollouts_per_epoch:
            n[i] = [rollouts_per_epoch if v is not None else None for v in acc[key]]
        elif key in n:
            n[i] = n[key]
        s = by_id.get(i) or {}
        lim, lo, hi = s.get("lim"), s.get("lim_lo"), s.get("lim_hi")
        labels[i] = f"chosen {i}" + (f": LIM {lim:.3f}" if isinstance(lim, float) else "")
        if isinstance(lo, float) and isinstance(hi, float):
            labels[i] += f" [{lo:.3f}, {hi:.3f}]"
    # "typical": the samples at the median LIM (or none when there are no scores)
    ranked = sorted(
        (s for s in scores if s.get("lim") is not None and log_of.get(str(s["id"])) in acc),
        key=lambda s: s["lim"],
    )
    typical_ids: list[str] = []
    if ranked:
        mid = len(ranked) // 2
        typical_ids = [log_of[str(s["id"])] for s in ranked[max(0, mid - 1) : mid + 2]]
    typical = {i: acc[i] for i in typical_ids if i not in chosen}
    return figures.curves_png(mean, chosen, typical, rollouts=n, labels=labels, level=level)


def _fmt_time(ts: Any) -> str:
    """``2026-12-02T02:37:54+00:00`` as ``2026-12-02 02:37 UTC``."""
    t = str(ts or "")
    return f"{t[:10]} {t[11:16]} UTC" if len(t) >= 16 and t[10] == "T" else t


def _score_table(row: dict[str, Any], score: dict[str, Any] | None) -> list[dict[str, str]]:
    """A chosen sample's scores as (name, value, interval) rows, in words."""
    s = dict(row.get("scores") or {}) | dict(score or {})
    out = []
    for k in (*_INTERVAL_SCORES, *_POINT_SCORES, "agreement", "pass_rate", "top_share"):
        v = s.get(k)
        if v is None:
            continue
        lo, hi = s.get(f"{k}_lo"), s.get(f"{k}_hi")
        interval = f"{lo:.4g} to {hi:.4g}" if lo is not None and hi is not None else ""
        value = f"{v:.0%}" if k == "top_share" else plain(v)
        out.append({"name": k, "value": value, "interval": interval})
    return out


def _skills(row: dict[str, Any]) -> dict[str, Any] | None:
    sk = row.get("skills")
    if not isinstance(sk, dict):
        return None
    canon = {c: ", ".join(map(str, names)) for c, names in (sk.get("canonical") or {}).items() if names}
    spectrum = {c: n for c, n in (sk.get("spectrum") or {}).items() if n}
    return {
        "breadth": sk.get("breadth"),
        "total": sk.get("total"),
        "by_category": canon or {c: f"{n} skills" for c, n in spectrum.items()},
    }


def _candidate(c: dict[str, Any]) -> dict[str, Any]:
    checks = [
        {
            "check": str(k.get("check")),
            "verdict": "pass" if k.get("keep") else "fail",
            "reason": str(k.get("reason") or ""),
        }
        for k in c.get("checks") or []
    ]
    meta = c.get("meta") if isinstance(c.get("meta"), dict) else {}
    return {
        "id": str(c.get("id")),
        "accepted": bool(c.get("accepted")),
        "verdict": "accepted"
        if c.get("accepted")
        else "rejected by " + plain(c.get("rejected_by") or "a check"),
        "problem": c.get("problem") or "",
        "generator": c.get("generator"),
        "skills_requested": plain(c.get("skills_requested")),
        "generator_answer": c.get("generator_answer"),
        "golden_answer": c.get("golden_answer"),
        "agreement": plain(c.get("agreement")),
        "pass_rate": plain(c.get("pass_rate")),
        "checks": checks,
        "raw": meta.get("raw"),
    }


def _export(run: RunDir, chosen: dict[str, Any] | None) -> dict[str, Any] | None:
    """The export's runs, and the chosen run's manifest: its files and its trainer command lines."""
    index = _rows(run.runs_index)
    mpath = run.root / chosen["manifest"] if chosen else run.manifest
    manifest = _json(mpath) if mpath.exists() else None
    if not index and manifest is None:
        return None
    runs = [
        {
            "dir": str(Path(run.export_dir.name) / str(e.get("dir"))),
            "samples": plain(e.get("ids") or e.get("id")),
            "rule": plain(e.get("rule")),
            "rows": plain(e.get("rows")),
            "updates": plain(e.get("updates")),
            "chosen": bool(chosen) and str(e.get("id")) == str(chosen["id"]),
        }
        for e in index
    ]
    out: dict[str, Any] = {
        "runs": runs,
        "manifest_path": str(mpath.relative_to(run.root)),
        "facts": [],
        "files": [],
        "commands": {},
        "updates": {},
    }
    if isinstance(manifest, dict):
        tmpl = manifest.get("template") if isinstance(manifest.get("template"), dict) else {}
        settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
        out |= {
            "files": [
                {k: plain(f.get(k)) for k in ("path", "trainer", "rows", "bytes", "sha256")}
                for f in manifest.get("files") or []
                if isinstance(f, dict)
            ],
            "commands": {str(k): str(v) for k, v in (manifest.get("trainer_commands") or {}).items()},
            "updates": manifest.get("trainer_updates") or {},
            "facts": [
                ("written by", plain(manifest.get("command"))),
                ("sample-forge", plain(manifest.get("version"))),
                ("created", _fmt_time(manifest.get("created"))),
                ("prompt template", plain(tmpl.get("name"))),
                ("copies of each sample", plain(settings.get("repeat"))),
                ("trainers", plain(settings.get("trainers"))),
                ("source", plain(settings.get("source"))),
            ],
        }
    if chosen and not out.get("commands"):
        out["commands"] = {str(k): str(v) for k, v in (chosen.get("commands") or {}).items()}
    return out


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

    from sample_forge.forge.outcome import run_outcome

    tags = _rows(run.tags)
    scores = _rows(run.scores)
    selection = _rows(run.selection)
    candidates = [_candidate(c) for c in _rows(run.candidates) + _rows(run.rejects)]
    chosen = _json(run.chosen) if run.chosen.exists() else None
    report = _json(run.score_report) if run.score_report.exists() else {}
    stages = []
    if run.markers.is_dir():
        for m in sorted(run.markers.glob("*.json"), key=lambda p: p.stat().st_mtime):
            d = _json(m)
            if not isinstance(d, dict):
                raise InputError("a stage marker must be a JSON object", path=str(m))
            facts, notes = stage_facts(d.get("counts") or {})
            stages.append(
                {"name": m.stem, "finished": _fmt_time(d.get("finished")), "facts": facts, "notes": notes}
            )
    outcome = run_outcome(run.root)
    confidence = {p["id"]: p["confidence"] for p in outcome["picks"]}
    score_of = {str(s["id"]): s for s in scores}
    cards = [
        {
            "id": str(r["id"]),
            "first": bool(chosen) and str(r["id"]) == str(chosen["id"]),
            "subject": r.get("subject"),
            "level": r.get("level"),
            "rule": r.get("rule"),
            "reason": r.get("reason"),
            "confidence": confidence.get(str(r["id"])),
            "problem": r.get("problem") or "",
            "answer": r.get("answer"),
            "scores": _score_table(r, score_of.get(str(r["id"]))),
            "skills": _skills(r),
        }
        for r in rank_chosen(selection, str(outcome.get("rule") or ""))
    ]
    chosen_ids = [c["id"] for c in cards]
    chosen_spectra = [
        (r.get("skills") or {}).get("spectrum") or {} for r in selection if isinstance(r.get("skills"), dict)
    ]
    unc = (report or {}).get("uncertainty") or {}
    pilot = (report or {}).get("pilot") or {}
    pngs: dict[str, bytes | None] = {
        "spectrum": figures.skill_spectrum_png(tags, CATEGORIES, chosen_spectra),
        "curves": _curves(
            run,
            chosen_ids,
            scores,
            level=float(unc.get("interval_level") or 0.9),
            rollouts_per_epoch=pilot.get("rollouts_per_epoch"),
        ),
        "lim": figures.distribution_png(
            [s.get("lim") for s in scores], name="LIM score", threshold=threshold
        ),
        "hist_var": figures.distribution_png([s.get("hist_var") for s in scores], name="historical variance"),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sample_forge", "report"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["plain"] = plain
    html = env.get_template("template.html.j2").render(
        title=run.root.name,
        run_dir=str(run.root),
        version=__version__,
        written=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        outcome=outcome,
        chosen=chosen,
        stages=stages,
        cards=cards,
        candidates=candidates,
        export=_export(run, chosen),
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
