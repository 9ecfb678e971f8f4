"""The ``sample-forge`` command. Subcommands load lazily so a slow import (torch, trl) or a broken
optional extra only affects its own command."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from sample_forge import __version__

# command name -> "module:attribute" (each module under sample_forge.cli)
COMMANDS: dict[str, str] = {
    "pool": "sample_forge.cli.pool:pool",
    "check-answer": "sample_forge.cli.answers:check_answer",
    "models": "sample_forge.cli.models:models",
    "score": "sample_forge.cli.score:score",
    "simulate-pilot": "sample_forge.cli.score:simulate_pilot",
    "tag": "sample_forge.cli.tag:tag",
    "skills": "sample_forge.cli.tag:skills",
    "synthesize": "sample_forge.cli.synth:synthesize",
    "decontam": "sample_forge.cli.synth:decontam",
    "select": "sample_forge.cli.select:select",
    "export": "sample_forge.cli.export:export",
    "pilot": "sample_forge.cli.pilot:pilot",
    "forge": "sample_forge.cli.forge:forge",
    "report": "sample_forge.cli.report:report",
    "passrate": "sample_forge.cli.passrate:passrate",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {n for n in COMMANDS if self._exists(n)})

    @staticmethod
    def _exists(name: str) -> bool:
        mod = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(mod) is not None

    def get_command(self, ctx: click.Context, name: str) -> Any:
        if name in COMMANDS and self._exists(name):
            mod, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(mod), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="sample-forge")
def cli() -> None:
    """sample-forge: find or build the one problem that teaches a base model the most.

    \b
    Pipeline:  pool -> tag -> score -> select -> export   (synthesize -> select --rule prime)
    Example:   sample-forge forge            # whole pipeline on the embedded demo, offline
    """


if __name__ == "__main__":
    cli()
