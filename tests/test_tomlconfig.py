"""The one TOML-to-dataclass validator, used by the forge recipe and the models config: unknown keys,
missing required keys and wrong types are one error naming file, section and key; lists become the
tuples a config wants; nested tables become nested configs; an old key name still works, with a
one-line deprecation message."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from sample_forge.errors import InputError
from sample_forge.forge.recipe import load_recipe
from sample_forge.impact.run import ScoreConfig
from sample_forge.selection import SelectConfig
from sample_forge.synth.pipeline import SynthConfig
from sample_forge.tomlconfig import from_table


@dataclass(frozen=True)
class Inner:
    width: float = 1.0


@dataclass(frozen=True)
class Outer:
    name: str
    tags: tuple[str, ...] = ()
    band: tuple[float, float] = (0.2, 0.8)
    weights: dict[str, float] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)
    limit: int | None = None
    flag: bool | str = True


def test_values_are_converted_to_the_annotations():
    got = from_table(
        Outer,
        {
            "name": "a",
            "tags": ["x", "y"],
            "band": [0, 1],
            "weights": {"k": 2},
            "inner": {"width": 3},
            "flag": "f",
        },
        path="c.toml",
        section="s",
    )
    assert got == Outer("a", ("x", "y"), (0.0, 1.0), {"k": 2.0}, Inner(3.0), None, "f")
    assert isinstance(got.band[0], float) and isinstance(got.inner.width, float)


@pytest.mark.parametrize(
    "table,field_,words",
    [
        ({"name": "a", "nmae": "b"}, "s", "unknown setting(s) nmae"),
        ({}, "s.name", "required"),
        ({"name": 3}, "s.name", "expected str, got int 3"),
        ({"name": "a", "limit": True}, "s.limit", "expected int | None, got bool True"),
        ({"name": "a", "tags": ["x", 2]}, "s.tags", "expected str, got int 2"),
        ({"name": "a", "band": [0.1]}, "s.band", "expected tuple[float, float]"),
        ({"name": "a", "inner": {"wide": 1}}, "s.inner", "unknown setting(s) wide"),
        ({"name": "a", "inner": 5}, "s.inner", "expected Inner"),
    ],
)
def test_bad_tables_name_file_section_and_key(table, field_, words):
    with pytest.raises(InputError) as e:
        from_table(Outer, table, path="c.toml", section="s")
    assert str(e.value).startswith(f"c.toml, field '{field_}': ") and words in str(e.value)


def test_recipe_sections_are_the_library_configs_with_their_defaults(tmp_path, capsys):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    r = load_recipe(empty)
    assert r.select == SelectConfig()
    assert dataclasses.asdict(r.score) == {**dataclasses.asdict(ScoreConfig()), "trajectory": "demo"}
    lib = dataclasses.asdict(SynthConfig())
    assert {k: v for k, v in dataclasses.asdict(r.synthesize).items() if k in lib} == lib
    # the packaged demo recipe keeps today's small demo settings, in the file, not in the defaults
    demo = load_recipe()
    s = demo.synthesize
    assert (s.skills, s.n, s.k, s.min_agreement, s.gen_max_tokens, s.solve_max_tokens) == (
        ("algebra", "kinematics"),
        2,
        2,
        0.5,
        384,
        256,
    )
    assert (demo.select.rule, demo.select.theta, demo.select.group_by) == ("polymath", 0.6, "subject")
    assert demo.score.missing == ScoreConfig().missing  # the demo takes score's default
    # the old [select] key: still read, one line on stderr
    old = tmp_path / "old.toml"
    old.write_text("[select]\nthreshold = 0.7\n")
    assert load_recipe(old).select.theta == 0.7
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: {old}: [select] threshold is deprecated; use theta"]
    both = tmp_path / "both.toml"
    both.write_text("[select]\nthreshold = 0.7\ntheta = 0.8\n")
    with pytest.raises(InputError, match="give 'theta' only"):
        load_recipe(both)
    with pytest.raises(InputError, match=r"field 'synthesize.pass_band': expected tuple\[float, float\]"):
        bad = tmp_path / "bad.toml"
        bad.write_text("[synthesize]\npass_band = [0.1, 0.2, 0.3]\n")
        load_recipe(bad)
