"""The forge recipe: one TOML file naming every stage's settings. With no file, the embedded
default runs offline on the demo pool, the demo pilot run and the built-in local model."""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sample_forge.errors import InputError
from sample_forge.selection.rules import SelectConfig

__all__ = [
    "Recipe",
    "PoolStep",
    "TagStep",
    "ScoreStep",
    "SynthStep",
    "ExportStep",
    "load_recipe",
]


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
    """Skill tagging: ``embed`` (offline) or ``llm`` with ``model``."""

    enabled: bool = True
    method: str = "embed"
    model: str | None = None


@dataclass(frozen=True)
class ScoreStep:
    """The pilot run to score: ``demo`` or a directory of any supported trainer format."""

    trajectory: str = "demo"
    format: str | None = None
    steps_per_epoch: int | None = None
    epoch_by: str | None = None
    missing: str = "next"


@dataclass(frozen=True)
class SynthStep:
    """Synthetic prime candidates through the LLM layer (off when ``enabled = false``)."""

    enabled: bool = True
    skills: list[str] = field(default_factory=lambda: ["algebra", "kinematics"])
    n: int = 2
    style: str = "prime"
    generators: list[str] = field(default_factory=lambda: ["local"])
    solvers: list[str] = field(default_factory=lambda: ["local"])
    k: int = 2
    min_agreement: float = 0.5
    gen_max_tokens: int = 384
    solve_max_tokens: int = 256
    against: list[str] = field(default_factory=list)  # benchmarks; the pool is always checked
    budget_usd: float | None = None


@dataclass(frozen=True)
class ExportStep:
    """Trainer files for the chosen sample(s)."""

    to: list[str] = field(default_factory=lambda: ["verl", "trl", "openrlhf"])
    repeat: int = 128
    template: str = "qwen-boxed"
    data_source: str | None = None  # None: export's default (verl's MATH rule reward)
    split: str = "train"
    force: bool = False


@dataclass(frozen=True)
class Recipe:
    pool: PoolStep = field(default_factory=PoolStep)
    tag: TagStep = field(default_factory=TagStep)
    score: ScoreStep = field(default_factory=ScoreStep)
    select: SelectConfig = field(default_factory=SelectConfig)
    synthesize: SynthStep = field(default_factory=SynthStep)
    export: ExportStep = field(default_factory=ExportStep)
    run_dir: str = "runs/forge"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _matches(value: Any, tp: Any) -> bool:
    """Whether a TOML value fits a setting's annotation (str, int, float, bool, lists, dicts, X | None)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if tp is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items()
        )
    if tp in (int, float):  # bool is an int to Python, not to a recipe
        return isinstance(value, (int, float) if tp is float else int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _build(cls: type, data: dict[str, Any], path: str, section: str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise InputError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(names)}", path=path, field=section
        )
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if not _matches(value, hints[key]):
            tp = hints[key]
            want = tp.__name__ if typing.get_origin(tp) is None and isinstance(tp, type) else str(tp)
            raise InputError(
                f"expected {want}, got {type(value).__name__} {value!r}", path=path, field=f"{section}.{key}"
            )
    return cls(**data)


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read a recipe TOML; ``None`` gives the embedded default."""
    if path is None:
        return Recipe()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such recipe file", path=str(p)) from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"invalid TOML ({e})", path=str(p)) from None
    sections = {
        "pool": PoolStep,
        "tag": TagStep,
        "score": ScoreStep,
        "select": SelectConfig,
        "synthesize": SynthStep,
        "export": ExportStep,
    }
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "run_dir":
            if not isinstance(value, str):
                raise InputError(f"expected a path (string), got {value!r}", path=str(p), field=key)
            kwargs["run_dir"] = value
        elif key in sections:
            if not isinstance(value, dict):
                raise InputError("expected a [table]", path=str(p), field=key)
            kwargs[key] = _build(sections[key], value, str(p), key)
        else:
            raise InputError(
                f"unknown section; known: {', '.join(sections)}, run_dir", path=str(p), field=key
            )
    return Recipe(**kwargs)
