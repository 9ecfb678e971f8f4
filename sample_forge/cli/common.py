"""What every command shares: one-line domain errors, --quiet, progress bars only on a terminal, and the
options of docs/vocabulary.md (``--pool``, ``--map``, ``-o/--out``, ``--by``, ``--theta``, ``--top``,
``-m/--model``) spelled once, with the old spellings as hidden deprecated aliases."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from sample_forge.deprecation import deprecated
from sample_forge.errors import SampleForgeError

__all__ = [
    "domain_errors",
    "quiet_option",
    "json_option",
    "interval_level_option",
    "config_from",
    "retry_failed_option",
    "progress",
    "console",
    "parse_kv_list",
    "deprecated",
    "renamed_option",
    "pool_option",
    "map_option",
    "out_option",
    "STDOUT",
    "to_stdout",
    "write_table",
    "out_name",
    "side_path",
    "all_failed",
    "StageLines",
    "llm_summary_by_cli",
    "by_option",
    "theta_option",
    "top_option",
    "model_option",
    "MODEL_DEFAULT_HELP",
]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")


def domain_errors(fn: F) -> F:
    """Turn SampleForgeError (and a few well-understood OS errors) into one clear line.
    ``SAMPLE_FORGE_DEBUG=1`` lets the traceback through."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if os.environ.get("SAMPLE_FORGE_DEBUG"):
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except SampleForgeError as e:
            raise click.ClickException(str(e)) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            msg = f"{e.strerror}: {e.filename}" if e.strerror and e.filename else str(e)
            raise click.ClickException(msg) from None

    return wrapper  # type: ignore[return-value]


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries.")


def config_from(cls: type[C], **overrides: Any) -> C:
    """The library config ``cls`` from the running command's options: every option named like a
    field of ``cls`` goes in as given, and ``overrides`` set the fields whose option has another name
    or needs converting (the same names as the recipe's, so the CLI and the recipe fill one config)."""
    params = click.get_current_context().params
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in params.items() if k in names}
    kwargs.update(overrides)
    return cls(**kwargs)


def interval_level_option(dest: str, help: str) -> Callable[[F], F]:
    """``--interval-level``: the coverage of a command's intervals (score's and passrate's alike)."""
    return click.option(
        "--interval-level",
        dest,
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=0.9,
        help=help,
    )


def json_option(help: str) -> Callable[[F], F]:
    """``--json`` (``as_json``): the command's summary as JSON on stdout; ``help`` says what it prints."""
    return click.option("--json", "as_json", is_flag=True, help=help)


retry_failed_option = click.option(
    "--retry-failed",
    is_flag=True,
    help="Ask again for LLM requests that ended at max_tokens before with the same settings.",
)


def console(quiet: bool = False, stderr: bool = True) -> Any:
    from rich.console import Console

    # soft_wrap: a message is one line, so a path or a count in it is never cut by a hard wrap
    # (the terminal wraps what is too long; a log file or a test sees the line whole)
    return Console(stderr=stderr, quiet=quiet, soft_wrap=True)


def progress(
    items: Iterable[Any], *, total: int | None = None, description: str = "", quiet: bool = False
) -> Iterator[Any]:
    """A rich progress bar on an interactive terminal; silent in pipes, CI and with --quiet."""
    if quiet or not sys.stderr.isatty():
        yield from items
        return
    from rich.progress import track

    yield from track(items, total=total, description=description, console=console())


def parse_kv_list(text: str | None, *, option: str) -> dict[str, str]:
    """'a=b,c=d' -> {'a': 'b', 'c': 'd'}; a clear error naming the option otherwise."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise click.BadParameter(f"expected key=value, got '{part}'", param_hint=option)
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


# ------------------------------------------------------------------------------------------------
# the shared options (docs/vocabulary.md): one spelling each


def renamed_option(new: str, dest: str, old: str, **kwargs: Any) -> Callable[[F], F]:
    """A hidden option ``old`` whose value goes to ``dest`` (the parameter of ``new``) with one
    deprecation line; when both are given, ``new`` wins."""
    old_dest = "_old_" + old.lstrip("-").replace("-", "_")

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            value = kw.pop(old_dest, None)
            if value is not None:
                deprecated(old, new)
                ctx = click.get_current_context(silent=True)
                given = (
                    ctx is not None
                    and ctx.get_parameter_source(dest) == click.core.ParameterSource.COMMANDLINE
                )
                if not given:
                    kw[dest] = value
                    if ctx is not None:  # config_from reads the options from ctx.params
                        ctx.params[dest] = value
            return fn(*args, **kw)

        return click.option(old, old_dest, hidden=True, default=None, **kwargs)(wrapper)  # type: ignore[return-value]

    return deco


class AliasedChoice(click.Choice):
    """A choice that also accepts old names (not shown in --help), each with a deprecation line."""

    def __init__(self, choices: Iterable[str], aliases: dict[str, str], option: str) -> None:
        super().__init__(list(choices))
        self.aliases = aliases
        self.option = option

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value in self.aliases:
            new = self.aliases[value]
            deprecated(f"{self.option} {value}", f"{self.option} {new}")
            value = new
        return super().convert(value, param, ctx)


def pool_option(*, required: bool = False, help: str | None = None) -> Callable[[F], F]:
    """``--pool POOL``: a table, ``demo`` (the embedded demo pool) or ``hf:ORG/NAME[:CONFIG][@SPLIT]``."""
    return click.option(
        "--pool",
        "pool",
        metavar="POOL",
        required=required,
        help=help or "Problem pool: a table (.jsonl/.json/.parquet/.csv) or 'demo' (the embedded demo pool).",
    )


def map_option(*, old: str | None = None, help: str | None = None) -> Callable[[F], F]:
    """``--map ours=theirs[,...]`` into the parameter ``mapping``; ``old`` (e.g. ``--columns``) is a
    deprecated alias."""
    opt = click.option(
        "--map",
        "mapping",
        default=None,
        metavar="OURS=THEIRS,...",
        help=help
        or "Map our column names onto the table's, e.g. 'problem=question,lim=lim_score' "
        "(dotted paths reach nested columns: answer=reward_model.ground_truth).",
    )

    def deco(fn: F) -> F:
        fn = opt(fn)
        return renamed_option("--map", "mapping", old)(fn) if old else fn

    return deco


STDOUT = "-"


def to_stdout(out: Any) -> bool:
    """``-o -``: the table goes to stdout as JSON lines."""
    return out is not None and str(out) == STDOUT


def out_name(out: Any) -> str:
    """How a summary names where the table went."""
    return "stdout" if to_stdout(out) else str(out)


def side_path(out: Any, kind: str, default: str, ext: str = ".jsonl", *, resumed: bool = False) -> str:
    """A file written beside the table (``sample_forge.join.side_path``: ``tags.jsonl`` ->
    ``tags.failures.jsonl``); beside the command's default name when the table goes to stdout.
    ``resumed``: a file a restarted command reads back (failures, the spend ledger): one written under
    the old name (``tags.jsonl.failures.jsonl``) is still used when the new one is absent."""
    from sample_forge.join import side_path as beside

    base = default if to_stdout(out) else str(out)
    path, old = beside(base, kind, ext), Path(f"{base}.{kind}{ext}")
    if resumed and old != path and not path.exists() and old.exists():
        deprecated(f"the side file name {old}", f"{path} (rename it)")
        return str(old)
    return str(path)


def write_table(out: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Write the table to ``out`` (format by file ending) or, for ``-``, JSON lines on stdout."""
    if not to_stdout(out):
        from sample_forge.tables import write_rows

        return write_rows(out, rows)
    import orjson

    n = 0
    for row in rows:
        sys.stdout.write(orjson.dumps(row, default=str).decode() + "\n")
        n += 1
    sys.stdout.flush()
    return n


def out_option(
    *,
    required: bool = False,
    default: Any = None,
    help: str = "Output table (.jsonl, .json, .parquet or .csv).",
    directory: bool = False,
    path_type: Any = None,
    old: str | None = None,
    stdout: bool | None = None,
) -> Callable[[F], F]:
    """``-o/--out PATH`` into the parameter ``out``; ``old`` is a deprecated alias. A table command
    takes ``-o -`` for JSON lines on stdout; where the output is a directory or a file that is not JSON
    lines (``stdout=False``), ``-`` is refused with one line saying why."""
    allow_stdout = (not directory) if stdout is None else stdout
    ptype = click.Path(file_okay=not directory, dir_okay=directory, path_type=path_type)

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if to_stdout(value) and not allow_stdout:
            what = "a directory" if directory else "a file that is not JSON lines"
            raise click.BadParameter(
                f"'-' (stdout) takes JSON lines only; {ctx.info_name} writes {what}: give a path",
                ctx=ctx,
                param=param,
            )
        return value

    if allow_stdout:
        help = f"{help} '-': JSON lines on stdout."
    opt = click.option(
        "--out",
        "-o",
        "out",
        type=ptype,
        metavar="PATH",
        required=required and old is None and default is None,
        default=default,
        callback=check,
        help=help,
    )

    def deco(fn: F) -> F:
        if old is None:
            return opt(fn)
        fn = opt(fn)
        fn = renamed_option("--out", "out", old, type=ptype)(fn)
        return _require(fn, "out", "-o/--out") if required and default is None else fn

    return deco


@contextlib.contextmanager
def llm_summary_by_cli() -> Iterator[None]:
    """While the command prints a model's ``last_summary`` line itself, the LLM layer's log record of
    the same line is dropped (else Python's last-resort handler prints it a second time)."""
    logger = logging.getLogger("sample_forge.llm")

    def drop(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("LLM ")

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def all_failed(stage: str, n_items: int, n_failed: int, reasons: dict[str, int], what: str = "items") -> None:
    """A stage where every item failed is an error (exit 1) with the reason counts, not a summary."""
    if n_items and n_failed >= n_items:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])) or "?"
        raise click.ClickException(f"{stage}: all {n_items} {what} failed ({counts})")


class StageLines:
    """Progress of a long stage: a rich bar on a terminal; in logs (not a tty) one line when the stage
    starts and one when it ends, with its time. Call ``start``, then ``advance``/``update`` (the
    library's progress callbacks), then ``end``."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._t0 = 0.0
        self.name = ""

    def start(self, name: str, total: int | None = None) -> None:
        import time

        self.name, self._t0 = name, time.monotonic()
        if self.quiet:
            return
        if self.tty:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(), console=console(), transient=True,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(name, total=total)
        else:
            click.echo(f"{name}: started" + (f" ({total} items)" if total else ""), err=True)

    def update(self, done: int, total: int | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def wrap(self, items: Iterable[Any], total: int | None = None, description: str = "") -> Iterator[Any]:
        """The library's ``progress(items, total=, description=)`` callback, drawn on this bar."""
        if self._bar is not None:
            self._bar.update(self._task, total=total, description=f"{self.name} ({description})")
        for x in items:
            yield x
            self.advance()

    def end(self, status: str = "done") -> float:
        import time

        secs = time.monotonic() - self._t0
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if not self.quiet:
            click.echo(f"{self.name}: {status} in {secs:.1f} s", err=True)
        return secs


def _require(fn: F, dest: str, flag: str) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        if kw.get(dest) is None:
            raise click.UsageError(f"Missing option '{flag}'.")
        return fn(*args, **kw)

    return wrapper  # type: ignore[return-value]


def by_option(
    choices: Iterable[str], *, default: str = "lim", help: str, aliases: dict[str, str] | None = None
) -> Callable[[F], F]:
    """``--by SCORE``: the score a ranking or rule uses (old score names via ``aliases``)."""
    return click.option(
        "--by",
        "by",
        type=AliasedChoice(choices, aliases or {}, "--by"),
        default=default,
        help=help,
    )


def theta_option(*, default: float | None = None, help: str) -> Callable[[F], F]:
    """``--theta X``: the cutoff on the ``--by`` score (keep >= X)."""
    return click.option(
        "--theta",
        "theta",
        type=float,
        default=default,
        metavar="X",
        help=help,
    )


def top_option(*, default: int | None = None, help: str, old: str | None = None) -> Callable[[F], F]:
    """``--top N``: how many samples to keep; ``old`` (e.g. ``--k``) is a deprecated alias."""
    itype = click.IntRange(min=1)
    opt = click.option("--top", "top", type=itype, default=default, metavar="N", help=help)

    def deco(fn: F) -> F:
        fn = opt(fn)
        return renamed_option("--top", "top", old, type=itype)(fn) if old else fn

    return deco


MODEL_DEFAULT_HELP = (
    "default: the OPENAI_* environment if set, else the models config's `default`, else the built-in "
    "'local' (SmolLM2-135M-Instruct)"
)


def model_option(*, default: str | None = None, help: str | None = None) -> Callable[[F], F]:
    """``-m/--model NAME`` into the parameter ``model``."""
    return click.option(
        "--model",
        "-m",
        "model",
        default=default,
        metavar="NAME",
        help=help
        or f"Model name (`sample-forge models list` marks the default with *); {MODEL_DEFAULT_HELP}.",
    )
