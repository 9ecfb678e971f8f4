"""Checks of synthetic candidates on the team-written validation suite (tests/data/synth_validation_suite.jsonl):
form, joint-solving verdicts with real math-verify, near-duplicates, the reply parser, skills names, prime."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sample_forge.errors import SampleForgeError
from sample_forge.records import Candidate
from sample_forge.selection.prime import pick_prime
from sample_forge.synth.checks import FormCheck, FormConfig, NearDupCheck, judge_agreement, parse_integer
from sample_forge.synth.parse import clean_answer, parse_generation

SUITE = Path(__file__).parent / "data" / "synth_validation_suite.jsonl"


def suite() -> list[dict]:
    return [orjson.loads(line) for line in SUITE.read_bytes().splitlines() if line.strip()]


def cand(row: dict) -> Candidate:
    return Candidate(
        id=row["id"], problem=row["problem"], generator_answer=row["answer"], generator="team", style="prime"
    )


def test_suite_covers_every_kind() -> None:
    kinds = {r["kind"] for r in suite()}
    assert kinds == {"correct", "wrong_gold", "leaked", "non_integer", "paraphrase", "clean"}
    assert sum(r["contaminated"] for r in suite()) >= 16


@pytest.mark.parametrize("row", [r for r in suite() if r["kind"] != "paraphrase"], ids=lambda r: r["id"])
def test_form_check_on_suite(row: dict) -> None:
    res = FormCheck().check(cand(row))
    assert res.check == "form"
    assert res.keep is row["expect_form_keep"], res.reason
    if row["kind"] == "leaked":
        assert res.reason.startswith("answer stated in the problem")
    if row["kind"] == "non_integer":
        assert any(s in res.reason for s in ("not an integer", "outside 1..1000", "more than one question"))


def test_form_reasons_are_specific() -> None:
    base = Candidate(
        "x",
        "A cell divides every hour; starting from one cell, after ten hours there are ____ cells.",
        "1024",
        "g",
        "prime",
    )
    assert FormCheck().check(base).reason == "answer 1024 outside 1..1000"
    assert FormCheck(FormConfig(hi=2000)).check(base).keep
    short = Candidate("y", "2+2=____", "4", "g", "prime")
    assert FormCheck().check(short).reason.startswith("too short")
    two = Candidate(
        "z", "What is the mass of the sample in grams? And what is its volume in liters?", "3", "g", "prime"
    )
    assert FormCheck().check(two).reason.startswith("more than one question")
    # a number in the text that happens to equal the answer is not a leak by itself
    ok = Candidate(
        "w",
        "A gene has 3 exons of 3 codons each. The number of codons in the exons is ____.",
        "9",
        "g",
        "prime",
    )
    assert FormCheck().check(ok).keep
    anyfmt = Candidate(
        "v",
        "The probability that a fair coin shows heads twice in two tosses is ____.",
        "\\frac{1}{4}",
        "g",
        "prime",
    )
    assert not FormCheck().check(anyfmt).keep
    assert FormCheck(FormConfig(answer="any"), can_parse=lambda a: True).check(anyfmt).keep


@pytest.mark.parametrize(
    "text,expected",
    [
        ("42", 42),
        ("1,000", 1000),
        ("$7$", 7),
        ("12.0", 12),
        ("12.5", None),
        ("\\frac{1}{2}", None),
        ("1e3", None),
        ("", None),
    ],
)
def test_parse_integer(text: str, expected: int | None) -> None:
    assert parse_integer(text) == expected


def test_joint_solving_verdicts_on_suite() -> None:
    from sample_forge.answers import AnswerChecker

    rows = [r for r in suite() if r["solver_answers"]]
    assert len(rows) >= 8
    with AnswerChecker() as checker:
        for r in rows:
            res = judge_agreement(r["answer"], r["solver_answers"], checker.check_many, 0.6)
            assert res.keep is r["expect_joint_keep"], (r["id"], res.reason)
            if r["kind"] == "wrong_gold" and res.details.get("agreement", 0) >= 0.6:
                assert "differs from the generator's" in res.reason
            if res.keep:
                # 96.0 and 96 (or 5 and 5.0) count as the same answer through math-verify
                n_equiv = sum(
                    1
                    for a in r["solver_answers"]
                    if a is not None and parse_integer(a) == parse_integer(r["answer"])
                )
                assert res.details["votes"] == n_equiv
                assert res.details["agreement"] == pytest.approx(n_equiv / len(r["solver_answers"]), abs=1e-4)


def test_joint_solving_without_answers_and_symbolic_equivalence() -> None:
    from sample_forge.answers import AnswerChecker

    with AnswerChecker() as checker:
        none = judge_agreement("5", [None, None, None], checker.check_many, 0.5)
        assert not none.keep and none.reason.startswith("no final \\boxed answer")
        sym = judge_agreement("\\frac{1}{2}", ["0.5", "1/2", "\\frac12", "3"], checker.check_many, 0.7)
        assert sym.keep and sym.details["votes"] == 3


def test_parse_generation() -> None:
    ok = parse_generation("Sure!\n<problem>Find ____.</problem>\n<answer>$\\boxed{42}$.</answer>")
    assert ok.ok and ok.problem == "Find ____." and ok.answer == "42"
    assert parse_generation("<PROBLEM>p</PROBLEM><Answer>7</Answer>").answer == "7"
    assert parse_generation("").error == "empty reply"
    assert parse_generation("The answer is 5").error == "no <problem>…</problem> block"
    assert parse_generation("<problem>p</problem><answer>5").error == "<answer> opened but not closed"
    assert parse_generation("<problem>a</problem><problem>b</problem><answer>1</answer>").error.startswith(
        "2 <problem>"
    )
    assert parse_generation("<problem>p</problem><answer> </answer>").error == "empty <answer>"
    assert clean_answer(" $ 12 $ ") == "12"


def test_near_duplicates_keep_the_first() -> None:
    rows = [r for r in suite() if r["kind"] == "clean"][:4]
    cands = [cand(r) for r in rows]
    copy = Candidate("copy", rows[0]["problem"].replace("Monday", "Tuesday"), rows[0]["answer"], "g", "prime")
    para = Candidate(
        "para",
        "A pendulum clock loses 3 seconds every hour in a room at 30 degrees Celsius. It shows "
        "the correct time at noon on Monday. By noon on the following Thursday, the clock is behind by "
        "____ seconds.",
        "216",
        "g",
        "prime",
    )
    res = NearDupCheck().check_many([*cands, copy, para])
    assert [r.keep for r in res[:4]] == [True] * 4
    assert not res[4].keep and res[4].details["of"] == rows[0]["id"] and "8-grams" in res[4].reason
    assert not res[5].keep and "cosine" in res[5].reason
    # earlier candidates of a resumed run count as seen
    again = NearDupCheck(seen=cands).check_many([copy])
    assert not again[0].keep


def test_resolve_skills_unknown_name_lists_close_matches() -> None:
    from sample_forge.skills import resolve_skills

    assert resolve_skills(["algebra", "Number_Theory"]) == ["Algebra", "Number Theory"]
    got = resolve_skills(["logic"])
    assert len(got) == 1 and got[0].lower().startswith("logic")
    with pytest.raises(SampleForgeError, match=r"unknown skill 'algbra'.*close matches: .*Algebra"):
        resolve_skills(["algbra"])
    with pytest.raises(SampleForgeError, match="unknown skill 'xyzzy'"):
        resolve_skills(["xyzzy"])


def _acc(cid: str, spectrum: dict, agreement: float, pass_rate: float | None) -> Candidate:
    c = Candidate(cid, "p", "1", "g", "prime", spectrum=spectrum, agreement=agreement, pass_rate=pass_rate)
    c.accepted = True
    return c


def test_prime_broadest_spectrum_then_agreement_then_pass_rate() -> None:
    narrow = _acc("narrow", {"Algebra": 5}, 1.0, 0.5)
    broad = _acc("broad", {"Algebra": 2, "Geometry": 1, "Probability": 1}, 0.7, 0.1)
    best, why = pick_prime([narrow, broad])
    assert best is broad and "3 categories" in why
    a = _acc("a", {"Algebra": 2, "Geometry": 1}, 0.7, 0.5)
    b = _acc("b", {"Algebra": 1, "Geometry": 2}, 0.9, 0.1)
    best, why = pick_prime([a, b])
    assert best is b and "higher solver agreement" in why
    c = _acc("c", {"Algebra": 1, "Geometry": 2}, 0.9, 0.45)
    best, why = pick_prime([b, c])
    assert best is c and "closer to 0.5" in why
    rejected = _acc("r", {"Algebra": 9, "Geometry": 9, "Probability": 9}, 1.0, 0.5)
    rejected.accepted = False
    assert pick_prime([rejected, a])[0] is a
    assert pick_prime([])[0] is None


def test_skills_check_with_the_offline_tagger() -> None:
    """The verdict follows the tagger's own output (its quality is the skills module's business)."""
    from sample_forge.skills import tag_problems
    from sample_forge.subjects import CATEGORIES
    from sample_forge.synth.checks import SkillsCheck

    rows = {r["id"]: r for r in suite()}
    cands = [cand(rows[i]) for i in ("clean-08", "clean-13", "clean-06", "correct-04")]
    # one problem per call, as the check tags it: batch padding may move a similarity at a threshold
    tags = [
        tag_problems(
            [{"id": c.id, "problem": c.problem, "answer": c.golden_answer or c.generator_answer}],
            method="embed",
        )[0]
        for c in cands
    ]
    tagged = [(c, t) for c, t in zip(cands, tags) if any(t.canonical.values())]
    assert tagged, "the offline tagger found no skill in four problems"
    c, t = tagged[0]
    present = next(g for g, s in t.canonical.items() if s)
    absent = next(g for g in CATEGORIES if not t.canonical.get(g))
    res = SkillsCheck([present]).check_many([c])[0]
    assert res.keep and c.spectrum == dict(t.spectrum) and res.details["total"] == t.total
    skill = t.canonical[present][0]
    assert SkillsCheck([skill.upper()]).check_many([c])[0].keep  # catalog names, any case
    miss = SkillsCheck([present, absent]).check_many([c])[0]
    assert not miss.keep and miss.reason == f"requested skills not found: {absent}"


@pytest.mark.parametrize("style", ["prime", "specialist", "math-only"])
def test_generation_prompts_carry_the_paper_constraints(style: str) -> None:
    from sample_forge.synth.generate import GenerationConfig, generation_requests

    reqs = generation_requests(
        3, ["Algebra", "logical reasoning"], ["m1", "m2"], GenerationConfig(style=style, domain="chemistry")
    )
    assert [(g, r.index) for g, r in reqs] == [("m1", 0), ("m2", 1), ("m1", 2)]  # rotated, one sample each
    text = reqs[0][1].messages[0]["content"]
    assert "$skills" not in text and "$domain" not in text  # every slot filled
    for must in (
        "fill-in-the-blank",
        "positive integer from 1 to 1000",
        "high-school to university",
        "no estimation",
        "No heavy arithmetic",
        "<problem>",
        "<answer>",
        "Algebra, logical reasoning",
    ):
        assert must in text, must
    if style == "prime":
        assert "professor proficient in physics, chemistry and biology" in text
    if style == "specialist":
        assert "professor of chemistry" in text


def test_unknown_style_and_missing_slot() -> None:
    from sample_forge.synth.generate import GenerationConfig, render

    with pytest.raises(SampleForgeError, match="unknown style"):
        GenerationConfig(style="poetry")
    with pytest.raises(SampleForgeError, match="needs slot 'problem'"):
        render("solve")


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_outputs_keep_the_full_record(tmp_path: Path, ext: str) -> None:
    from sample_forge.records import CheckResult
    from sample_forge.synth.pipeline import SynthRun, write_outputs
    from sample_forge.tables import read_rows

    ok = Candidate(
        "a",
        "p",
        "1",
        "g",
        "prime",
        checks=[
            CheckResult("parse", True, "ok"),
            CheckResult("joint_solve", True, "agreement 1.00", {"answers": ["1", None]}),
        ],
    )
    ok.accepted = True
    bad = Candidate(
        "b", "", None, "g", "prime", checks=[CheckResult("parse", False, "unparseable reply: empty reply")]
    )
    write_outputs(SynthRun([ok, bad]), tmp_path / f"o.{ext}", tmp_path / f"r.{ext}")
    [acc], [rej] = read_rows(tmp_path / f"o.{ext}"), read_rows(tmp_path / f"r.{ext}")
    checks = acc["checks"] if ext == "jsonl" else orjson.loads(acc["checks"])
    assert checks[1]["details"]["answers"] == ["1", None] and acc["reason"] == "accepted"
    assert rej["reason"] == "unparseable reply: empty reply" and list(rej["rejected_by"]) == ["parse"]
