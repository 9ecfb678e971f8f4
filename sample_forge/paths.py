"""Where things live: package data (``prompts/``, ``data/``) in a wheel or a checkout, and the user's
cache and models config (``SAMPLE_FORGE_HOME`` moves both; tests isolate it)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["resource_path", "read_prompt", "cache_dir", "config_path"]

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


def cache_dir() -> Path:
    home = os.environ.get("SAMPLE_FORGE_HOME")
    p = Path(home) / "cache" if home else Path(platformdirs.user_cache_dir("sample-forge"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def config_path() -> Path:
    """The models config (TOML). ``SAMPLE_FORGE_CONFIG`` overrides it."""
    env = os.environ.get("SAMPLE_FORGE_CONFIG")
    if env:
        return Path(env)
    home = os.environ.get("SAMPLE_FORGE_HOME")
    base = Path(home) if home else Path(platformdirs.user_config_dir("sample-forge"))
    return base / "models.toml"
