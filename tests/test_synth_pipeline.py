"""End to end with the real local model (SmolLM2 behind the real llama.cpp server, real openai client):
candidates are generated, validated and written with their full record; the reasons of every rejection
are re-derived independently; a re-run makes no HTTP request."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from sample_forge.records import Candidate
from sample_forge.synth.checks import FormCheck, FormConfig, JointSolveCheck, judge_agreement
from sample_forge.synth.decontam import DecontamConfig, DecontamIndex, load_benchmark, resolve_benchmarks
from sample_forge.synth.parse import parse_generation

pytestmark = pytest.mark.llm

N, K = 2, 2


def _index(shared_data: Path) -> DecontamIndex:
    specs = resolve_benchmarks(["aime24", "amc23"], root=shared_data)
    return DecontamIndex.build([load_benchmark(s) for s in specs], DecontamConfig(use_embeddings=False))


def _assert_reasons_right(c: Candidate) -> None:
    """Re-derive the verdict of the first failing check from the candidate's own record."""
    names = [r.check for r in c.checks]
    assert names[0] in ("generate", "parse")
    failing = [r for r in c.checks if not r.keep]
    assert c.accepted is (not failing)
    assert all(r.keep for r in c.checks[:-1]), "checks stop at the first rejection"
    if not failing:
        return
    r = failing[0]
    if r.check == "generate":
        assert r.reason.startswith("generation failed:") and r.details["error_kind"]
    elif r.check == "parse":
        assert r.reason == f"unparseable reply: {parse_generation(c.meta['raw']).error}"
    elif r.check == "form":
        assert FormCheck(FormConfig()).check(c).reason == r.reason
    elif r.check == "decontam":
        assert any(r.details["flags"].values())
    elif r.check == "joint_solve":
        answers = r.details["answers"]
        assert len(answers) == K  # one solver, k samples
        if r.details.get("votes"):
            assert r.details["agreement"] == pytest.approx(r.details["votes"] / K)


def test_synthesize_end_to_end_with_real_local_model(
    llama_server, llama_config, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sample_forge.cli.main import cli
    from sample_forge.synth.pipeline import SynthConfig, synthesize

    cfg = SynthConfig(
        skills=("Algebra",),
        n=N,
        generators=("llama",),
        solvers=("llama",),
        k=K,
        gen_max_tokens=400,
        solve_max_tokens=160,
    )
    index = _index(shared_data)
    llama_server.reset()
    run = synthesize(cfg, index=index)
    assert llama_server.chat_requests >= N
    assert len(run.candidates) == N and len({c.id for c in run.candidates}) == N
    for c in run.candidates:
        _assert_reasons_right(c)
        if c.checks[0].check == "parse":
            assert c.meta["usage"]["completion_tokens"] > 0
        if any(r.check == "decontam" for r in c.checks):
            d = next(r for r in c.checks if r.check == "decontam").details
            assert set(d["flags"]) == {"aime24", "amc23"}
    s = run.summary
    with capsys.disabled():
        print("\nsynthesis with SmolLM2:", s["rejected"], "accepted", s["accepted"])
    assert s["generated"] == N and s["accepted"] + sum(s["rejected"].values()) == N
    assert s["tokens"] > 0

    # the same run again: everything from the LLM cache, nothing re-asked, the same verdicts
    llama_server.reset()
    again = synthesize(cfg, index=index)
    assert llama_server.chat_requests == 0
    assert [[(r.check, r.keep, r.reason) for r in c.checks] for c in again.candidates] == [
        [(r.check, r.keep, r.reason) for r in c.checks] for c in run.candidates
    ]

    # and through the CLI (same options, same cache): files with the full record of each candidate
    out, rej = tmp_path / "cands.jsonl", tmp_path / "rejects.jsonl"
    res = CliRunner().invoke(
        cli,
        [
            "synthesize",
            "--skills",
            "algebra",
            "--n",
            str(N),
            "--generators",
            "llama",
            "--solvers",
            "llama",
            "--k",
            str(K),
            "--max-tokens",
            "400",
            "--solve-max-tokens",
            "160",
            "--against",
            "aime24,amc23",
            "--bench-root",
            str(shared_data),
            "--no-embed",
            "--out",
            str(out),
            "--rejects",
            str(rej),
            "--prime",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert llama_server.chat_requests == 0
    summary = orjson.loads(res.stdout.strip().splitlines()[-1])
    assert summary["generated"] == N
    rows = [orjson.loads(x) for p in (out, rej) for x in p.read_bytes().splitlines()]
    assert len(rows) == N
    for row in rows:
        assert {"id", "problem", "generator", "checks", "skills_requested", "meta", "reason"} <= set(row)
        assert row["skills_requested"] == ["Algebra"] and row["generator"] == "llama"
        if not row["accepted"]:
            assert row["reason"] == next(c["reason"] for c in row["checks"] if not c["keep"])


def test_joint_solving_with_real_local_model(llama_server, llama_config) -> None:
    from sample_forge.answers import AnswerChecker
    from sample_forge.llm import get_model

    suite = Path(__file__).parent / "data" / "synth_validation_suite.jsonl"
    row = next(orjson.loads(x) for x in suite.read_bytes().splitlines() if b'"correct-06"' in x)
    c = Candidate(row["id"], row["problem"], row["answer"], "team", "prime")
    with AnswerChecker() as checker:
        model = get_model("llama")
        [res] = JointSolveCheck([model], checker, k=K, min_agreement=0.6, max_tokens=160).check_many([c])
        assert res.details["per_solver"]["llama"] and len(res.details["answers"]) == K
        again = judge_agreement(c.generator_answer, res.details["answers"], checker.check_many, 0.6)
        assert again.keep is res.keep
        if any(a is not None for a in res.details["answers"]):
            assert again.reason == res.reason
        else:  # every sample failed or had no \boxed answer: said so
            assert res.reason.startswith(("solver calls failed", "no final \\boxed answer"))
        assert (c.golden_answer is not None) is res.keep
        model.close()


def test_learnability_with_real_local_model(llama_server, llama_config) -> None:
    from sample_forge.answers import AnswerChecker
    from sample_forge.llm import get_model
    from sample_forge.synth.checks import LearnabilityCheck

    easy = Candidate(
        "easy",
        "A box holds 3 red and 4 blue marbles. The number of marbles in the box is ____.",
        "7",
        "team",
        "prime",
        golden_answer="7",
    )
    no_gold = Candidate(
        "nogold",
        "A box holds 3 red and 4 blue marbles. The number of red marbles is ____.",
        "3",
        "team",
        "prime",
    )
    with AnswerChecker() as checker:
        model = get_model("llama")
        res = LearnabilityCheck(model, checker, k=K, band=(0.0, 0.5), max_tokens=160).check_many(
            [easy, no_gold]
        )
        model.close()
    assert not res[1].keep and res[1].reason == "no golden answer to score against"
    r = res[0]
    if r.reason.startswith("target model calls failed"):
        return
    assert easy.pass_rate == r.details["pass_rate"] == r.details["correct"] / K
    assert r.keep is (easy.pass_rate <= 0.5)
    assert r.reason.startswith("pass rate") and ("in [0.0, 0.5]" in r.reason) is r.keep


def test_budget_stops_new_calls_and_says_so(llama_server, tmp_path: Path) -> None:
    from sample_forge.paths import config_path
    from sample_forge.synth.pipeline import SynthConfig, summary_rows, synthesize

    cfg_file = config_path()
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    # a priced model, one call at a time: the first call spends more than the whole budget
    cfg_file.write_text(
        f'[models.priced]\nbase_url = "{llama_server.base_url}"\nmodel = "smollm2"\n'
        "max_concurrency = 1\ntimeout = 120\nmax_retries = 1\nprice_in = 1000000\n"
        # the llama.cpp server's structured output, declared: "auto" would add one probe request
        'price_out = 1000000\nstructured_output = "json_object"\n',
        encoding="utf-8",
    )
    cfg = SynthConfig(
        skills=("Algebra",),
        n=3,
        generators=("priced",),
        solvers=("priced",),
        k=1,
        gen_max_tokens=64,
        solve_max_tokens=64,
        budget_usd=0.01,
        check_skills=False,
    )
    llama_server.reset()
    run = synthesize(cfg)
    assert llama_server.chat_requests == 1
    assert run.summary["budget_exhausted"]
    reasons = [next(r.reason for r in c.checks if not r.keep) for c in run.candidates]
    # candidates 2 and 3 were never generated; the first was (one request), and is rejected on its
    # own merits, or by the budget too when SmolLM2 hit max_tokens and its retry was refused
    assert all("budget" in r for r in reasons[1:]), reasons
    assert sum("budget" in r for r in reasons) in (2, 3), reasons
    assert run.summary["spent_usd"] > 0.01  # the one call was billed, answer or 'length' failure
    assert ("budget", "exhausted: later calls were not made") in summary_rows(run.summary)


def test_budget_counts_earlier_runs_through_the_ledger(
    llama_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """synthesize stopped by its budget and started again with the same --out: the restart must not get a
    fresh budget. The CLI keeps the ledger beside the output (<out>.spent.jsonl)."""
    import orjson
    from click.testing import CliRunner

    from sample_forge.cli.main import cli
    from sample_forge.paths import config_path

    cfg_file = config_path()
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    cfg_file.write_text(
        f'[models.priced]\nbase_url = "{llama_server.base_url}"\nmodel = "smollm2"\n'
        "max_concurrency = 1\ntimeout = 120\nmax_retries = 1\nprice_in = 1000000\n"
        'price_out = 1000000\napi_key_env = "PRICED_KEY"\n',
        encoding="utf-8",
    )
    secret = "sk-ledger-marker-5f1e"
    monkeypatch.setenv("PRICED_KEY", secret)
    out = tmp_path / "cands.jsonl"
    args = [
        "synthesize",
        "--skills",
        "Algebra",
        "--n",
        "3",
        "--generators",
        "priced",
        "--solvers",
        "priced",
        "--k",
        "1",
        "--max-tokens",
        "64",
        "--solve-max-tokens",
        "64",
        "--no-skills-check",
        "--budget-usd",
        "0.01",
        "--out",
        str(out),
        "--json",
    ]
    llama_server.reset()
    first = CliRunner().invoke(cli, args)
    # the cap stops generation: every candidate failed (exit 1, "budget" counted), the summary still printed
    assert first.exit_code in (0, 1) and (first.exit_code == 0 or "budget" in first.stderr), first.output
    s1 = orjson.loads(first.stdout.strip().splitlines()[-1])
    assert s1["budget_exhausted"] and s1["spent_usd"] > 0.01 and not s1["spent_earlier_usd"]
    calls = llama_server.chat_requests
    assert calls >= 1
    ledger = tmp_path / "cands.spent.jsonl"
    assert sum(orjson.loads(x)["usd"] for x in ledger.read_bytes().splitlines()) == pytest.approx(
        s1["spent_usd"]
    )
    assert secret.encode() not in ledger.read_bytes() and secret not in first.output

    second = CliRunner().invoke(cli, args)  # the restart: same output, same cap
    assert second.exit_code in (0, 1), second.output
    s2 = orjson.loads(second.stdout.strip().splitlines()[-1])
    assert llama_server.chat_requests == calls  # nothing new was paid for
    assert s2["spent_usd"] == 0 and s2["spent_earlier_usd"] == pytest.approx(s1["spent_usd"])
    assert s2["budget_exhausted"]
