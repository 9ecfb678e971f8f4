"""Answer extraction and math-verify equivalence (real math-verify, real worker processes)."""

from __future__ import annotations

import threading
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sample_forge.answers import (
    AnswerChecker,
    can_parse,
    extract_boxed,
    is_equivalent,
    prepare_answer,
)
from sample_forge.cli.main import cli

# Integer towers: sympy evaluates them in C big-int code where math-verify's signal.alarm cannot
# interrupt, so only the parent's hard timeout (kill the worker) ends them.
HANG = r"9^{9^{9^{9}}}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so $x=\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"nested \boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
        (r"first \boxed{1}, then \boxed{2}", "2"),
        (r"\boxed{1} and last \fbox{x+1}", "x+1"),
        (r"the answer is $\boxed 5$.", "5"),
        (r"$\boxed{\{1,2\}}$", r"\{1,2\}"),
        (r"set \boxed{\left\{ 3 \right.}", r"\left\{ 3 \right."),
        (r"\boxed {7}", "7"),
        (r"\boxed{ 12 }", "12"),
        (r"\boxed{3} and a broken \boxed{x", "3"),
        (r"\boxed{}", None),
        ("no box here", None),
        ("", None),
        (r"\boxedx{3}", None),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@given(st.text(alphabet="abc123+-^ {}", max_size=20))
@settings(max_examples=200, deadline=None)
def test_extract_boxed_roundtrip_balanced(inner):
    # any balanced content comes back exactly (after strip), even after an earlier box
    depth = 0
    for ch in inner:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return
    if depth != 0 or not inner.strip():
        return
    assert extract_boxed(r"a \boxed{0} b $\boxed{" + inner + "}$ end") == inner.strip()


def test_prepare_answer_wraps_bare_latex_only():
    assert prepare_answer(r"\frac{\sqrt{3}}{2}") == r"$\frac{\sqrt{3}}{2}$"
    assert prepare_answer(r"\$30") == r"$\$30$"
    assert prepare_answer(r"so $x=2$") == r"so $x=2$"
    assert prepare_answer(r"\boxed{2}") == r"\boxed{2}"


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        (r"\frac{\sqrt{3}}{2}", r"\frac{\sqrt3}{2}", True),
        (r"\frac{\sqrt{3}}{2}", "3", False),  # bare parse would read the gold as 3
        ("[-2,7]", "[-2, 7]", True),
        ("[-2,7]", "(-2, 7)", False),
        (r"\frac12", "0.5", True),
        ("x+1", "1+x", True),
        ("3", r"the answer is $\boxed{3}$", True),
        ("3", "4", False),
        (r"\$30", "30", True),
    ],
)
def test_is_equivalent_main_thread(gold, pred, expected):
    assert is_equivalent(gold, pred) is expected


def test_can_parse():
    assert can_parse("[-2,7]")
    assert can_parse(r"\frac{\sqrt{3}}{2}")
    assert not can_parse("")
    assert not can_parse("   ")
    # only math-verify's string fallback: every rollout would be scored against a bare string
    assert not can_parse("?")
    assert not can_parse("---")


def test_checker_batch_keeps_order_and_reasons():
    pairs = [(str(i), str(i if i % 3 else i + 1)) for i in range(40)]
    with AnswerChecker(timeout=5, workers=2, chunk_size=7) as c:
        got = c.check_many(pairs)
        verdicts = c.verdicts([("", "1"), ("1", ""), ("2", "2")])
    assert got == [bool(i % 3) for i in range(40)]
    assert [v.reason for v in verdicts] == ["gold unparseable", "pred unparseable", "equivalent"]
    assert [v.equivalent for v in verdicts] == [None, None, True]


def test_hard_timeout_kills_hanging_item_and_finishes_batch():
    pairs = [("1", "1"), (HANG, "1"), ("2", "2"), ("3", "4"), ("x+1", "1+x")]
    t0 = time.monotonic()
    with AnswerChecker(timeout=1.5, workers=1, chunk_size=5) as c:
        verdicts = c.verdicts(pairs)
        assert c.timeouts == 1 and c.restarts == 1
        # the replaced worker is usable afterwards
        assert c.check("5", "5") is True
    elapsed = time.monotonic() - t0
    assert [v.equivalent for v in verdicts] == [True, None, True, False, True]
    assert verdicts[1].reason == "timeout"
    assert elapsed < 30, elapsed


def test_is_equivalent_from_a_thread_uses_the_process_pool():
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["eq"] = is_equivalent(r"\frac{1}{2}", "0.5")
            out["ne"] = is_equivalent("1", "2")
            out["parse"] = can_parse("[-2,7]")
        except Exception as e:  # surfaced below: math-verify's signal error would land here
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    assert "error" not in out, out.get("error")
    assert out == {"eq": True, "ne": False, "parse": True}


def test_check_answer_cli_exit_codes():
    r = CliRunner().invoke(cli, ["check-answer", r"\frac{\sqrt{3}}{2}", r"\sqrt{3}/2"])
    assert r.exit_code == 0 and "equivalent" in r.output
    r = CliRunner().invoke(cli, ["check-answer", "8", r"so $\boxed{9}$"])
    assert r.exit_code == 1 and "not equivalent" in r.output
    r = CliRunner().invoke(cli, ["check-answer", "8", ""])
    assert r.exit_code == 2 and "undecided" in r.output
    r = CliRunner().invoke(cli, ["check-answer", "--help"])
    assert r.exit_code == 0 and "Example" in r.output


def test_unguarded_script_is_not_rerun_in_workers(tmp_path):
    # spawn/forkserver children would import the caller's __main__; the checker hides it
    import subprocess
    import sys

    from tests.conftest import REPO

    script = tmp_path / "script.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "print('body', flush=True)\n"
        "from sample_forge.answers import AnswerChecker\n"
        "with AnswerChecker(workers=2, timeout=10) as c:\n"
        "    print(c.check_many([('1/2', '0.5'), ('3', '4')]))\n"
    )
    r = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["body", "[True, False]"]


def test_hangs_in_several_batches_on_several_workers():
    pairs = [(str(i), str(i)) for i in range(24)]
    pairs[5] = (HANG, "1")
    pairs[18] = ("1", HANG)
    with AnswerChecker(timeout=1.5, workers=2, chunk_size=4) as c:
        got = c.check_many(pairs)
        assert c.timeouts == 2
    assert got == [None if i in (5, 18) else True for i in range(24)]


def test_one_checker_shared_by_threads():
    results: dict[int, list] = {}
    with AnswerChecker(timeout=5, workers=2) as c:

        def run(k: int) -> None:
            results[k] = c.check_many(
                [(str(k * 10 + i), str(k * 10 + i)) for i in range(10)] + [(str(k), str(k + 1))]
            )

        threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert results == {k: [True] * 10 + [False] for k in range(3)}
