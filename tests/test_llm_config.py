"""Model config (TOML), name resolution, the SQLite cache file (migrations, WAL) and the models CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.cli.models import LLMOptions, llm_options
from sample_forge.errors import InputError
from sample_forge.llm import Cache, LLMError, get_model
from sample_forge.llm.cache import MIGRATIONS, default_cache_path
from sample_forge.llm.config import load_configs, resolve_config
from sample_forge.paths import config_path
from tests.fixtures.llm_servers import FaultServer


def write_config(text: str) -> Path:
    p = config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_config_parsed_and_defaults() -> None:
    write_config(
        'default = "big"\n[models.big]\nmodel = "qwen"\nbase_url = "http://h/v1"\n'
        'api_key_env = "K"\nmax_concurrency = 16\nprice_in = 0.9\nprice_out = 1\n'
    )
    configs, default = load_configs()
    assert default == "big"
    c = configs["big"]
    assert (c.model, c.base_url, c.api_key_env, c.max_concurrency, c.price_in, c.price_out) == (
        "qwen",
        "http://h/v1",
        "K",
        16,
        0.9,
        1,
    )
    assert c.max_retries == 3 and c.timeout == 60
    assert resolve_config(None).name == "big"  # config default
    assert resolve_config("local").backend == "local"


def test_none_prefers_env_then_local(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_config(None).name == "local"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    c = resolve_config(None)
    assert c.name == "env" and c.base_url == "http://127.0.0.1:1/v1" and c.api_key_env == "OPENAI_API_KEY"


@pytest.mark.parametrize(
    "text, field",
    [
        ('[models.a]\nmodel = "m"\nbase_ur = "x"\n', "models.a"),
        ('[models.a]\nbase_url = "x"\n', "models.a.model"),
        ('[models.a]\nmodel = "m"\nmax_concurrency = 0\n', "models.a.max_concurrency"),
        ('[models.a]\nmodel = "m"\nprice_in = "cheap"\n', "models.a.price_in"),
        ('[models.local]\nmodel = "m"\n', "models.local"),
    ],
)
def test_bad_config_names_file_and_field(text: str, field: str) -> None:
    p = write_config(text)
    with pytest.raises(InputError) as e:
        load_configs()
    assert str(p) in str(e.value) and f"field '{field}'" in str(e.value)


def test_bad_toml_names_file() -> None:
    p = write_config("[models.a\n")
    with pytest.raises(InputError, match=str(p)):
        load_configs()


def test_unknown_model_lists_known() -> None:
    write_config('[models.alpha]\nmodel = "m"\n')
    with pytest.raises(LLMError, match="unknown model 'beta'; known: alpha, local"):
        get_model("beta")


def test_cache_file_wal_and_append_only_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.sqlite"
    monkeypatch.setenv("SAMPLE_FORGE_CACHE_DB", str(db))
    assert default_cache_path() == db
    Cache().close()
    Cache().close()  # reopening applies nothing twice
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = c.execute("SELECT version, name FROM migrations ORDER BY version").fetchall()
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert rows == [(i + 1, name) for i, (name, _) in enumerate(MIGRATIONS)]
    assert {"responses", "calls", "migrations"} <= tables


def test_cli_path_list_ping(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    url = fault_server.script("cli", [])
    monkeypatch.setenv("SF_CLI_KEY", "sk-cli-secret-123")
    write_config(
        f'[models.faulty]\nbase_url = "{url}"\nmodel = "fm"\napi_key_env = "SF_CLI_KEY"\nprice_in = 2.5\n'
    )
    runner = CliRunner()
    r = runner.invoke(cli, ["models", "path"])
    assert r.exit_code == 0 and r.output.strip() == str(config_path())
    r = runner.invoke(cli, ["models", "list"])
    assert r.exit_code == 0, r.output
    assert "faulty" in r.output and "SF_CLI_KEY (set)" in r.output and "local *" in r.output
    assert "sk-cli-secret-123" not in r.output
    r = runner.invoke(cli, ["models", "ping", "faulty"])
    assert r.exit_code == 0, r.output
    assert "ok  faulty (fm)" in r.output and fault_server.counts["cli"] == 1
    # ping never answers from the cache
    assert runner.invoke(cli, ["models", "ping", "faulty"]).exit_code == 0
    assert fault_server.counts["cli"] == 2
    fault_server.script("cli", ["500"] * 10)
    r = runner.invoke(cli, ["models", "ping", "faulty"])
    assert r.exit_code == 1 and "HTTP 500" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["models", "ping", "nope"])
    assert r.exit_code == 1 and "unknown model 'nope'" in r.output


def test_llm_options_build_the_model(tmp_path: Path) -> None:
    seen: list[LLMOptions] = []

    @click.command()
    @llm_options
    def cmd(llm: LLMOptions) -> None:
        seen.append(llm)

    db = tmp_path / "c.sqlite"
    r = CliRunner().invoke(cmd, ["-m", "local", "--cache-db", str(db), "--budget-usd", "1.5"])
    assert r.exit_code == 0, r.output
    assert seen[-1] == LLMOptions("local", False, db, 1.5)
    m = seen[-1].get_model()
    assert m.name == "local" and m.cache is not None and m.cache.path == db
    assert m.budget is not None and m.budget.limit_usd == 1.5 and m.budget.ledger is None
    ledger = tmp_path / "tags.spent.jsonl"
    ledger.write_text('{"time": 0, "model": "x", "usd": 2.0}\n')
    assert seen[-1].get_model(ledger=ledger).budget.exhausted  # an earlier run already paid past the cap
    CliRunner().invoke(cmd, ["--no-cache"])
    assert seen[-1].get_model().cache is None


def test_cache_key_is_the_exact_payload() -> None:
    from sample_forge.llm.cache import payload_hash

    base = {
        "model": "m",
        "base_url": "u",
        "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.7,
        "max_tokens": 5,
        "seed": None,
    }
    same = {**base, "messages": [{"content": "x", "role": "user"}]}  # key order is not content
    assert payload_hash(base) == payload_hash(same)
    for change in (
        {"base_url": "v"},
        {"model": "n"},
        {"temperature": 0.0},
        {"max_tokens": 6},
        {"seed": 0},
        {"messages": [{"role": "user", "content": "x "}]},
    ):
        assert payload_hash({**base, **change}) != payload_hash(base), change


def test_unusable_cache_file_is_one_clear_error(tmp_path: Path) -> None:
    from sample_forge.errors import SampleForgeError

    bad = tmp_path / "not_a_db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SampleForgeError, match="cannot open the LLM cache"):
        get_model("local", cache=bad)
