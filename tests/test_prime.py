"""One prime ranker: ``synthesize --prime`` and ``select --rule prime`` mark the same sample, whatever
order the candidates come in. The old rankers disagreed on a full tie: one kept the input order, the
other sorted by id."""

from __future__ import annotations

import itertools

from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.records import Candidate
from sample_forge.selection.prime import mark_prime, pick_prime, rank_prime
from sample_forge.synth.pipeline import SynthRun, write_outputs
from sample_forge.tables import read_rows


def _cand(cid: str, spectrum: dict, agreement: float | None, pass_rate: float | None) -> Candidate:
    c = Candidate(cid, f"Problem {cid}?", "7", "g", "prime", spectrum=spectrum, agreement=agreement)
    c.pass_rate, c.golden_answer, c.accepted = pass_rate, "7", True
    return c


def _tied() -> list[Candidate]:
    """Equal on every key but the id, in descending id order (the old pick_prime took the first)."""
    wide = {"Algebra": 1, "Geometry": 2}
    return [
        _cand("syn-c", wide, 1.0, 0.5),
        _cand("syn-b", wide, 1.0, 0.5),
        _cand("syn-a", wide, 1.0, 0.5),
        _cand("syn-narrow", {"Algebra": 9}, 1.0, 0.5),
    ]


def test_synthesize_prime_and_select_prime_mark_the_same_sample(tmp_path):
    cands = _tied()
    # the library path of `synthesize --prime`: mark the prime, write the candidates table
    best, why = mark_prime(cands)
    assert best is not None and best.id == "syn-a"
    assert "tied on spectrum, agreement and pass rate with syn-b, broken by id" in why
    out = tmp_path / "cands.jsonl"
    write_outputs(SynthRun(cands), out, None)
    marked = [r["id"] for r in read_rows(out) if r["meta"].get("prime")]
    assert marked == ["syn-a"]

    # `select --rule prime` over that very table
    sel = tmp_path / "sel.jsonl"
    r = CliRunner().invoke(cli, ["select", "--rule", "prime", "--candidates", str(out), "-o", str(sel)])
    assert r.exit_code == 0, r.output
    rows = read_rows(sel)
    assert [row["id"] for row in rows] == ["syn-a"]
    assert rows[0]["reason"] == why


def test_prime_does_not_depend_on_input_order():
    cands = _tied()
    for order in itertools.permutations(cands):
        assert [c.id for c in rank_prime(order)] == ["syn-a", "syn-b", "syn-c", "syn-narrow"]


def test_missing_agreement_ranks_below_a_measured_zero():
    wide = {"Algebra": 1, "Geometry": 1}
    unmeasured, zero = _cand("a-none", wide, None, 0.5), _cand("b-zero", wide, 0.0, 0.5)
    assert pick_prime([unmeasured, zero])[0] is zero
    unmeasured_pr, far = _cand("a-none", wide, 1.0, None), _cand("b-far", wide, 1.0, 1.0)
    assert pick_prime([unmeasured_pr, far])[0] is far
