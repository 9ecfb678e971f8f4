from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.records import Problem
from sample_forge.subjects import category_of, normalize_subject, parse_level
from sample_forge.tables import read_rows, write_rows


def test_cli_help_lists_commands():
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0, r.output
    # "forge" alone is in the "sample-forge" title: check every registered command is listed
    from sample_forge.cli.main import COMMANDS

    listed = r.output.split("Commands:", 1)[1].split()
    assert set(COMMANDS) <= set(listed), r.output


def test_subjects_and_levels():
    assert normalize_subject("counting_and_probability") == "Counting & Probability"
    assert normalize_subject("Intermediate Algebra") == "Intermediate Algebra"
    assert normalize_subject("physics") is None
    assert category_of("Prealgebra") == "Algebra"
    assert category_of("Counting & Probability") == "Probability"
    assert parse_level("Level ?") is None
    assert parse_level("Level 4") == 4


def test_roundtrip_all_formats(tmp_path):
    rows = [
        Problem(id="a", problem="1+1?", answer="2", subject="Algebra", level=1).to_dict(),
        Problem(id="b", problem="x", answer=None, meta={"k": 1}).to_dict(),
    ]
    for ext in ("jsonl", "parquet", "json"):
        p = tmp_path / f"t.{ext}"
        write_rows(p, rows)
        back = read_rows(p)
        assert [r["id"] for r in back] == ["a", "b"]
        assert back[0]["answer"] == "2"


def test_parquet_free_form_meta_roundtrips(tmp_path):
    p = tmp_path / "m.parquet"
    rows = [{"id": "a", "meta": {}}, {"id": "b", "meta": {"y": [1, 2], "s": "x"}}]
    write_rows(p, rows)
    assert read_rows(p) == rows


def test_malformed_jsonl_names_file_and_line(tmp_path):
    import pytest

    from sample_forge.errors import InputError

    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": 1}\n{"id": 2,\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        read_rows(p)


def test_atomic_write_gives_umask_mode(tmp_path):
    import os
    import stat

    p = tmp_path / "x.jsonl"
    write_rows(p, [{"a": 1}])
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".")]  # no temp file left
