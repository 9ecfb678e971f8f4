"""``sample-forge models path|list|ping|cache`` and the LLM options every LLM-using command shares
(``@llm_options``: --model, --no-cache, --cache-db, --budget-usd; ``@cache_options`` for a command
that names its models itself: all but --model)."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from sample_forge.cli.common import domain_errors, model_option

__all__ = ["models", "llm_options", "cache_options", "LLMOptions"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class LLMOptions:
    """The parsed shared LLM options; ``get_model()`` builds the model they describe."""

    model: str | None = None
    no_cache: bool = False
    cache_db: Path | None = None
    budget_usd: float | None = None

    def get_model(self, name: str | None = None, *, ledger: str | Path | None = None) -> Any:
        """``ledger``: a file of billed calls (beside the command's output), so a restarted command
        counts what its earlier runs paid against ``--budget-usd``."""
        from sample_forge.llm import Budget, get_model

        budget = Budget(self.budget_usd, ledger=ledger) if self.budget_usd is not None or ledger else None
        return get_model(name or self.model, cache=self.cache, budget=budget)

    @property
    def cache(self) -> bool | str:
        """What the LLM layer's ``cache=`` takes: False (--no-cache), a file, or True (the default file)."""
        return False if self.no_cache else (str(self.cache_db) if self.cache_db else True)


def llm_options(fn: F) -> F:
    """Add --model/--no-cache/--cache-db/--budget-usd; the command receives ``llm: LLMOptions``."""
    return _llm_options(fn, with_model=True)


def cache_options(fn: F) -> F:
    """Add --no-cache/--cache-db/--budget-usd; the command receives ``llm: LLMOptions`` (no model)."""
    return _llm_options(fn, with_model=False)


def _llm_options(fn: F, *, with_model: bool) -> F:
    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        no_cache: bool,
        cache_db: Path | None,
        budget_usd: float | None,
        model: str | None = None,
        **kwargs: Any,
    ) -> Any:
        return fn(*args, llm=LLMOptions(model, no_cache, cache_db, budget_usd), **kwargs)

    for opt in reversed(
        [
            *([model_option()] if with_model else []),
            click.option("--no-cache", is_flag=True, help="Neither read nor write the LLM cache/log."),
            click.option(
                "--cache-db",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="LLM cache/log file (default: $SAMPLE_FORGE_CACHE_DB or the user cache dir).",
            ),
            click.option(
                "--budget-usd",
                type=click.FloatRange(min=0),
                default=None,
                help="Stop starting LLM calls once this much (USD) was spent; runs writing the "
                "same output share the cap (ledger: <stem>.spent.jsonl).",
            ),
        ]
    ):
        wrapper = opt(wrapper)
    return wrapper  # type: ignore[return-value]


@click.group()
def models() -> None:
    """The LLMs sample-forge can call: the built-in 'local' SmolLM2, OPENAI_* env, and the
    [models.NAME] tables of the config file.

    \b
    Example:
      sample-forge models path          # where the TOML config is read from
      sample-forge models list
      sample-forge models ping local
    """


@models.command("path")
def path_cmd() -> None:
    """Print the models config path (SAMPLE_FORGE_CONFIG overrides it).

    \b
    Example:  $EDITOR "$(sample-forge models path)"
    """
    from sample_forge.paths import config_path

    click.echo(str(config_path()))


@models.command("list")
@domain_errors
def list_cmd() -> None:
    """List the known models (API keys are shown only as the name of their variable, set or unset).

    \b
    Example:  sample-forge models list
    """
    from sample_forge.llm.config import ENV_NAME, LOCAL, load_configs, resolve_config, safe_url
    from sample_forge.paths import config_path

    configs, default = load_configs()
    rows = [resolve_config(LOCAL)]
    if os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"):
        rows.append(resolve_config(ENV_NAME))
    rows.extend(configs.values())
    chosen = resolve_config(None).name
    table = [("name", "model", "base_url", "concurrency", "$/1M in", "$/1M out", "api key")]
    for c in rows:
        key = _key_state(c) or "-"
        table.append(
            (
                c.name + (" *" if c.name == chosen else ""),
                c.model,
                (
                    f"{safe_url(c.base_url)} (+{len(c.replicas) - 1} replicas)"
                    if c.replicas
                    else safe_url(c.base_url) or ("in-process" if c.backend == "local" else "api.openai.com")
                ),
                str(c.max_concurrency) + (f" x {len(c.replicas)}" if c.replicas else ""),
                f"{c.price_in:g}",
                f"{c.price_out:g}",
                key,
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    click.echo(f"config: {config_path()}")
    for r in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    click.echo("* = used when no --model is given" + (f" (config default: {default})" if default else ""))


@models.command("ping")
@click.argument("name")
@click.option("--max-tokens", default=32, help="Length of the test answer.")
@domain_errors
def ping_cmd(name: str, max_tokens: int) -> None:
    """Send one short uncached chat request to NAME (to each replica when its base_url lists several)
    and report the answer and latency, one line per replica.

    \b
    Example:  sample-forge models ping local
    """
    import dataclasses

    from sample_forge.llm import LLMError, get_model
    from sample_forge.llm.config import resolve_config, safe_url

    cfg = resolve_config(name)
    if not cfg.replicas:
        ok, line = _ping_one(lambda: get_model(name, cache=False), max_tokens)
        if not ok:
            raise LLMError(f"ping {name} failed: {line}")
        click.echo(f"ok  {name} ({cfg.model}) answered in {line}")
        return
    from sample_forge.llm.openai_backend import OpenAIModel

    key = f", key {_key_state(cfg)}" if cfg.api_key_env else ""
    failed = 0
    for i, url in enumerate(cfg.replicas, start=1):
        one = dataclasses.replace(cfg, base_url=url, replicas=())
        ok, line = _ping_one(lambda one=one: OpenAIModel(one), max_tokens)
        failed += not ok
        where = f"{name} replica {i}/{len(cfg.replicas)} {safe_url(url)} ({cfg.model}{key})"
        click.echo(f"ok     {where} answered in {line}" if ok else f"error  {where}: {line}")
    if failed:
        raise LLMError(f"ping {name}: {failed} of {len(cfg.replicas)} replicas failed")


def _key_state(cfg: Any) -> str:
    """``NAME (set)`` / ``NAME (UNSET)`` for a model's api_key_env (never its value); "" without one."""
    env = cfg.api_key_env
    return f"{env} ({'set' if os.environ.get(env) else 'UNSET'})" if env else ""


def _ping_one(build: Callable[[], Any], max_tokens: int) -> tuple[bool, str]:
    """(ok, "1.23s: 'answer'") or (False, the error) for one endpoint."""
    from sample_forge.llm import Request

    t0 = time.perf_counter()
    with build() as m:
        [r] = m.complete_many(
            [
                Request(
                    [{"role": "user", "content": "Repeat after me: hello 1"}],
                    max_tokens=max_tokens,
                    temperature=0,
                )
            ]
        )
    dt = time.perf_counter() - t0
    if not r.ok and r.error_kind != "length":
        return False, str(r.error)
    # an answer cut at max_tokens still proves the endpoint works
    text = r.completions[0].text if r.completions else "(answer cut at --max-tokens)"
    return True, f"{dt:.2f}s: {text.strip()[:80]!r}"


@models.command("cache")
@click.option(
    "--cache-db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Cache/log file (default: $SAMPLE_FORGE_CACHE_DB or the user cache dir).",
)
@domain_errors
def cache_cmd(cache_db: Path | None) -> None:
    """Show the LLM cache/log file and what it holds (answers, calls, failures, cost).

    \b
    Example:  sample-forge models cache
    """
    from sample_forge.llm.cache import Cache

    c = Cache(cache_db)
    s = c.stats()
    c.close()
    click.echo(
        f"{c.path}\n  cached answers: {s['responses']}\n  calls logged: {s['calls']} "
        f"({s['failed_calls']} failed)\n  cost logged: ${s['cost_usd']:.4f}"
    )
