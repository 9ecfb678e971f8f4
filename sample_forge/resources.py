"""Locate package data (``prompts/``, ``data/``) in an installed wheel or a source checkout."""

from __future__ import annotations

from pathlib import Path

__all__ = ["resource_path", "read_prompt"]

_PKG = Path(__file__).resolve().parent


def resource_path(relative: str) -> Path:
    """``resource_path('prompts/tag_skills.txt')``: the wheel carries prompts/ and data/ inside the
    package (see pyproject force-include); a source checkout has them beside the package."""
    for base in (_PKG, _PKG.parent):
        p = base / relative
        if p.exists():
            return p
    raise FileNotFoundError(f"package data not found: {relative} (looked in {_PKG} and {_PKG.parent})")


def read_prompt(name: str) -> str:
    """The text of ``prompts/<name>`` (``.txt`` added when missing)."""
    if "." not in name:
        name += ".txt"
    return resource_path(f"prompts/{name}").read_text(encoding="utf-8")
