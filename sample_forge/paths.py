"""User directories. ``SAMPLE_FORGE_HOME`` moves all of them (tests isolate it)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["user_dir", "cache_dir", "config_path"]


def user_dir() -> Path:
    home = os.environ.get("SAMPLE_FORGE_HOME")
    return Path(home) if home else Path(platformdirs.user_data_dir("sample-forge"))


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
