"""The forge recipe: one TOML file naming every stage's settings. A section is the stage's library
config (``[score]`` a ScoreConfig, ``[select]`` a SelectConfig, ``[synthesize]`` a SynthConfig,
``[export]`` an ExportConfig: the same names, the same defaults) plus the stage's inputs. With no file, the packaged demo recipe
(``data/demo/recipe.toml``) runs offline on the demo pool, the demo pilot run and the built-in local model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sample_forge.errors import InputError
from sample_forge.export import ExportConfig
from sample_forge.impact.run import ScoreConfig
from sample_forge.selection.rules import SelectConfig
from sample_forge.synth.pipeline import SynthConfig
from sample_forge.tomlconfig import from_table, read_toml

__all__ = [
    "Recipe",
    "PoolStep",
    "TagStep",
    "ScoreStep",
    "SynthStep",
    "ExportConfig",
    "SelectConfig",
    "load_recipe",
    "library_config",
    "DEMO_RECIPE",
]

DEMO_RECIPE = "data/demo/recipe.toml"
T = TypeVar("T")


@dataclass(frozen=True)
class PoolStep:
    """Where the problems come from: ``demo``, a local table, or ``hf:ID``."""

    source: str = "demo"
    map: dict[str, str] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    limit: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class TagStep:
    """Skill tagging: ``embed`` (offline) or ``llm`` with ``model``; ``ray`` runs the ``llm`` calls on a
    Ray cluster, spelled as ``tag --ray`` and ``[synthesize] ray``: "local" (start one), "auto" or an
    address. Same rows and cache either way."""

    enabled: bool = True
    method: str = "embed"
    model: str | None = None
    ray: str | None = None


@dataclass(frozen=True)
class ScoreStep(ScoreConfig):
    """A ScoreConfig and the pilot run to score: ``demo`` or a directory of any supported trainer format."""

    trajectory: str = "demo"


@dataclass(frozen=True)
class SynthStep(SynthConfig):
    """A SynthConfig; ``enabled = false`` skips the stage (no LLM calls); ``against``: benchmarks to
    decontaminate against (the pool is always checked)."""

    enabled: bool = True
    against: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recipe:
    pool: PoolStep = field(default_factory=PoolStep)
    tag: TagStep = field(default_factory=TagStep)
    score: ScoreStep = field(default_factory=ScoreStep)
    select: SelectConfig = field(default_factory=SelectConfig)
    synthesize: SynthStep = field(default_factory=SynthStep)
    export: ExportConfig = field(default_factory=ExportConfig)
    run_dir: str = "runs/forge"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def library_config(step: Any, cls: type[T]) -> T:
    """The library config inside a recipe section (``library_config(recipe.score, ScoreConfig)``)."""
    return cls(**{f.name: getattr(step, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


_SECTIONS: dict[str, type] = {
    "pool": PoolStep,
    "tag": TagStep,
    "score": ScoreStep,
    "select": SelectConfig,
    "synthesize": SynthStep,
    "export": ExportConfig,
}
_RENAMED = {"select": {"threshold": "theta"}}


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read a recipe TOML; ``None`` reads the packaged demo recipe."""
    if path is None:
        from sample_forge.paths import resource_path

        path = resource_path(DEMO_RECIPE)
    p = str(path)
    data = read_toml(p, missing="no such recipe file")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "run_dir":
            if not isinstance(value, str):
                raise InputError(f"expected a path (string), got {value!r}", path=p, field=key)
            kwargs["run_dir"] = value
        elif key in _SECTIONS:
            kwargs[key] = from_table(_SECTIONS[key], value, path=p, section=key, renamed=_RENAMED.get(key))
        else:
            raise InputError(f"unknown section; known: {', '.join(_SECTIONS)}, run_dir", path=p, field=key)
    tag = kwargs.get("tag")
    if tag is not None and tag.ray is not None and tag.method != "llm":
        # as `tag --ray`: the embed tagger runs in this process
        raise InputError(
            f'runs method = "llm" on a cluster; method is {tag.method!r}', path=p, field="tag.ray"
        )
    return Recipe(**kwargs)
