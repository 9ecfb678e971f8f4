"""Fault handling of the LLM layer through the real openai client against a scripted HTTP server:
every fault ends in a correct answer after retries or in a recorded failure; nothing is dropped."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import orjson
import pytest

from sample_forge.llm import BudgetExceeded, LLMError, Request, get_model
from sample_forge.llm.cache import default_cache_path
from tests.fixtures.llm_servers import OK_TEXT, FaultServer, free_port

MSG = [{"role": "user", "content": "What is 6*7?"}]


def model_for(
    base_url: str,
    tmp_path: Path,
    *,
    name: str = "fault",
    max_retries: int = 2,
    timeout: float = 10,
    max_concurrency: int = 4,
    extra: str = "",
    **kw: object,
):
    cfg = tmp_path / "models.toml"
    cfg.write_text(
        f'[models.{name}]\nbase_url = "{base_url}"\nmodel = "fault-model"\n'
        f"max_retries = {max_retries}\ntimeout = {timeout}\n"
        f"max_concurrency = {max_concurrency}\n{extra}",
        encoding="utf-8",
    )
    m = get_model(name, config_path=cfg, **kw)  # type: ignore[arg-type]
    m.backoff_base_s = 0.05  # keep the layer's own backoff short in tests
    return m


def successes_in_db() -> int:
    with sqlite3.connect(default_cache_path()) as c:
        return c.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_ok_then_cached_without_http(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("ok", [])
    with model_for(url, tmp_path) as m:
        [c] = m.complete(MSG, max_tokens=16)
        assert c.text == OK_TEXT and not c.cached and c.finish_reason == "stop"
        assert c.prompt_tokens == 10 and c.completion_tokens == 5
        [c2] = m.complete(MSG, max_tokens=16)
    assert c2.cached and c2.text == OK_TEXT
    assert fault_server.counts["ok"] == 1
    # another sample index or other params are other requests
    with model_for(url, tmp_path) as m:
        m.complete(MSG, max_tokens=16, index=1)
        m.complete(MSG, max_tokens=17)
    assert fault_server.counts["ok"] == 3


def test_429_honours_retry_after(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("rl", ["429:1", "ok"])
    with model_for(url, tmp_path) as m:
        t0 = time.monotonic()
        [c] = m.complete(MSG, max_tokens=16)
        elapsed = time.monotonic() - t0
    assert c.text == OK_TEXT
    assert fault_server.counts["rl"] == 2
    assert elapsed >= 0.95  # waited the server's Retry-After, not the 0.5 s default backoff


def test_500_retried_then_answer(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("e500", ["500", "500", "ok"])
    with model_for(url, tmp_path, max_retries=3) as m:
        [c] = m.complete(MSG, max_tokens=16)
    assert c.text == OK_TEXT and fault_server.counts["e500"] == 3


def test_500_forever_is_a_clear_failure(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("dead", ["500"] * 10)
    with model_for(url, tmp_path, max_retries=1) as m, pytest.raises(LLMError, match="HTTP 500"):
        m.complete(MSG, max_tokens=16)
    assert fault_server.counts["dead"] == 2  # first try + max_retries
    assert successes_in_db() == 0
    with sqlite3.connect(default_cache_path()) as c:
        assert c.execute("SELECT status FROM calls").fetchall() == [("http",)]


def test_slow_response_times_out_and_is_retried(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("slow", ["slow:2", "ok"])
    with model_for(url, tmp_path, timeout=0.5, max_retries=2) as m:
        [c] = m.complete(MSG, max_tokens=16)
    assert c.text == OK_TEXT and fault_server.counts["slow"] == 2


def test_slow_forever_fails_with_timeout(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("slow2", ["slow:1.5"] * 3)
    with (
        model_for(url, tmp_path, timeout=0.3, max_retries=1) as m,
        pytest.raises(LLMError, match="timed out"),
    ):
        m.complete(MSG, max_tokens=16)
    assert fault_server.counts["slow2"] == 2


@pytest.mark.parametrize("fault", ["truncated", "empty", "nobody"])
def test_malformed_body_is_retried_then_answer(fault_server: FaultServer, tmp_path: Path, fault: str) -> None:
    url = fault_server.script(fault, [fault, "ok"])
    with model_for(url, tmp_path) as m:
        [c] = m.complete(MSG, max_tokens=16)
    assert c.text == OK_TEXT and fault_server.counts[fault] == 2


@pytest.mark.parametrize("fault", ["truncated", "empty"])
def test_malformed_forever_is_a_failure_never_cached(
    fault_server: FaultServer, tmp_path: Path, fault: str
) -> None:
    url = fault_server.script(fault, [fault] * 10)
    with model_for(url, tmp_path, max_retries=2) as m:
        [r] = m.complete_many([Request(MSG, max_tokens=16)])
    assert not r.ok and r.error_kind == "malformed" and r.completions == []
    assert fault_server.counts[fault] == 3
    assert successes_in_db() == 0


def test_length_is_retried_once_then_recorded(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("len", ["length"] * 10)
    with model_for(url, tmp_path) as m:
        [r] = m.complete_many([Request(MSG, max_tokens=4)])
        assert not r.ok and r.error_kind == "length" and "max_tokens=4" in (r.error or "")
        assert fault_server.counts["len"] == 2
        assert successes_in_db() == 0
        # not cached as an answer, but recorded: the same settings are not sent again (issue #16) ...
        with pytest.raises(LLMError, match="max_tokens=4 before with the same settings; not re-sent"):
            m.complete(MSG, max_tokens=4)
        assert fault_server.counts["len"] == 2
        # ... unless asked to
        m.retry_failed = True
        with pytest.raises(LLMError, match="length"):
            m.complete(MSG, max_tokens=4)
    assert fault_server.counts["len"] == 4


def test_length_counted_per_sample(fault_server: FaultServer, tmp_path: Path) -> None:
    # the server ignores n: sample 1 is cut once (then fine), sample 2 is cut twice (a failure)
    url = fault_server.script("lens", ["ok1", "length", "ok", "length", "length"])
    with model_for(url, tmp_path) as m:
        [r] = m.complete_many([Request(MSG, n=3, max_tokens=16)])
    assert r.error_kind == "length" and "1 of 3 sample" in (r.error or "")
    assert [c.text for c in r.completions] == [OK_TEXT, OK_TEXT]
    assert fault_server.counts["lens"] == 5
    assert successes_in_db() == 2


def test_length_then_ok(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("len2", ["length", "ok"])
    with model_for(url, tmp_path) as m:
        [c] = m.complete(MSG, max_tokens=16)
    assert c.text == OK_TEXT and c.finish_reason == "stop"


def test_n_ignored_by_server_asks_for_the_rest(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("one", ["ok1"] * 10)
    with model_for(url, tmp_path) as m:
        cs = m.complete(MSG, n=3, max_tokens=16, seed=7)
        assert len(cs) == 3 and all(c.text == OK_TEXT for c in cs)
        assert fault_server.counts["one"] == 3
        sent = fault_server.requests["one"]
        assert sent[0]["n"] == 3 and "n" not in sent[1] and "n" not in sent[2]
        assert sorted(r["seed"] for r in sent) == [7, 8, 9]  # a distinct seed per sample
        # the three samples are cached by index: a 4th costs one call
        cs = m.complete(MSG, n=4, max_tokens=16, seed=7)
        assert [c.cached for c in cs] == [True, True, True, False]
    assert fault_server.counts["one"] == 4


def test_identical_requests_in_a_batch_share_one_call(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("dup", [])
    reqs = [Request(MSG, max_tokens=16, id=str(i)) for i in range(3)] + [Request(MSG, max_tokens=16, index=1)]
    with model_for(url, tmp_path) as m:
        res = m.complete_many(reqs)
    assert [r.request.id for r in res] == ["0", "1", "2", None]
    assert all(r.ok and r.completions[0].text == OK_TEXT for r in res)
    assert fault_server.counts["dup"] == 2  # one call for the three identical, one for index 1


def test_n_honoured_is_one_call(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("many", [])
    with model_for(url, tmp_path) as m:
        cs = m.complete(MSG, n=5, max_tokens=16)
    assert len(cs) == 5 and fault_server.counts["many"] == 1


def test_batch_mixed_faults_in_order_nothing_dropped(
    fault_server: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = fault_server.script("batch", [])
    scripts = {
        "q0": [],
        "q1": ["length", "length"],
        "q2": ["429:0.2", "ok"],
        "q3": ["500", "500"],
        "q4": ["truncated", "ok"],
        "q5": ["empty", "empty"],
        "q6": [],
    }
    for content, steps in scripts.items():
        fault_server.script_for(content, steps)
    reqs = [Request([{"role": "user", "content": q}], max_tokens=16, id=q) for q in scripts]
    failures = tmp_path / "failures.jsonl"
    with (
        caplog.at_level(logging.WARNING, logger="sample_forge.llm"),
        model_for(url, tmp_path, max_retries=1, max_concurrency=3) as m,
    ):
        results = m.complete_many(reqs, failures_path=failures)
    assert [r.request.id for r in results] == list(scripts)
    assert [r.ok for r in results] == [True, False, True, False, True, False, True]
    assert [r.error_kind for r in results] == [None, "length", None, "http", None, "malformed", None]
    assert all(r.completions[0].text == OK_TEXT for r in results if r.ok)
    rows = [orjson.loads(line) for line in failures.read_bytes().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q3", "q5"]
    assert [r["position"] for r in rows] == [1, 3, 5]
    assert m.last_summary["failed"] == 3 and m.last_summary["failed_by_kind"] == {
        "length": 1,
        "http": 1,
        "malformed": 1,
    }
    assert "3 failed" in caplog.text and str(failures) in caplog.text
    # re-running pays only for the failed ones
    before = fault_server.counts["batch"]
    with model_for(url, tmp_path, max_retries=1) as m:
        again = m.complete_many(reqs)
    # the scripts are used up: the server now answers; q1 ended at max_tokens with the same settings,
    # so it is not sent again (issue #16)
    assert [r.ok for r in again] == [True, False, True, True, True, True, True]
    assert again[1].error_kind == "length" and m.last_summary["not_resent"] == 1
    assert [r.completions[0].cached for r in again if r.ok] == [True, True, False, True, False, True]
    assert fault_server.counts["batch"] - before == 2


def test_api_key_never_stored(
    fault_server: FaultServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "sk-test-SECRET-8c1f0e2d9b7a"
    monkeypatch.setenv("SF_TEST_KEY", secret)
    url = fault_server.script("key", ["ok", "500", "500"] + ["truncated"] * 6)
    failures = tmp_path / "failures.jsonl"
    errors = []
    with (
        caplog.at_level(logging.DEBUG),
        model_for(
            url, tmp_path, max_retries=1, max_concurrency=1, extra='api_key_env = "SF_TEST_KEY"\n'
        ) as m,
    ):
        m.complete(MSG, max_tokens=16)
        for i in range(2):
            try:
                m.complete(MSG, max_tokens=16, index=i + 1)
            except LLMError as e:
                errors.append(str(e) + repr(e))
        m.complete_many([Request(MSG, max_tokens=9)], failures_path=failures)
        assert secret not in repr(m) and secret not in repr(m.config)
    assert fault_server.auth_headers[0] == f"Bearer {secret}"  # the key was really used
    assert len(errors) == 2
    db = default_cache_path()
    blobs = [p.read_bytes() for p in db.parent.glob(db.name + "*")]  # the DB, its -wal and -shm
    assert blobs and all(secret.encode() not in b for b in blobs)
    assert all(secret not in e for e in errors)
    assert secret not in caplog.text and secret.encode() not in failures.read_bytes()


def test_key_inside_base_url_is_masked(
    fault_server: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Some gateways take the key in the URL (?api-key=KEY): it is never shown."""
    secret = "sk-url-SECRET-77aa19"
    url = fault_server.script("urlkey", ["ok", "500", "500"]) + f"?api-key={secret}"
    errors = []
    with caplog.at_level(logging.DEBUG), model_for(url, tmp_path, max_retries=1, max_concurrency=1) as m:
        m.complete(MSG, max_tokens=16)
        try:
            m.complete(MSG, max_tokens=16, index=1)
        except LLMError as e:
            errors.append(str(e))
        assert secret not in repr(m) and secret not in repr(m.config) and "api-key=***" in m.shown_endpoint
    assert fault_server.counts["urlkey"] == 3
    assert len(errors) == 1 and "api-key=***" in errors[0] and secret not in errors[0]
    db = default_cache_path()
    blobs = [p.read_bytes() for p in db.parent.glob(db.name + "*")]
    assert blobs and all(secret.encode() not in b for b in blobs)
    # (the openai client's own DEBUG lines print its request URLs; ours never do)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("sample_forge")]
    assert ours and all(secret not in line for line in ours)


def test_missing_key_env_is_clear(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("nokey", [])
    with (
        model_for(url, tmp_path, extra='api_key_env = "SF_UNSET_KEY_VAR"\n') as m,
        pytest.raises(LLMError, match="SF_UNSET_KEY_VAR"),
    ):
        m.complete(MSG)
    assert fault_server.counts["nokey"] == 0


def test_connection_refused_is_a_failure(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with model_for(url, tmp_path, max_retries=0) as m:
        [r] = m.complete_many([Request(MSG)])
    assert r.error_kind == "http" and "cannot connect" in (r.error or "")


def test_budget_stops_new_calls(fault_server: FaultServer, tmp_path: Path) -> None:
    # 10 prompt + 5 completion tokens at $1000/1M each = $0.015 per call
    url = fault_server.script("budget", [])
    with model_for(
        url, tmp_path, max_concurrency=1, budget=0.02, extra="price_in = 1000\nprice_out = 1000\n"
    ) as m:
        reqs = [Request([{"role": "user", "content": f"q{i}"}], max_tokens=16) for i in range(5)]
        results = m.complete_many(reqs)
        assert [r.ok for r in results].count(True) == 2
        assert all(
            r.error_kind == "budget" and "budget exhausted" in (r.error or "") for r in results if not r.ok
        )
        assert fault_server.counts["budget"] == 2
        assert m.budget is not None and m.budget.spent_usd == pytest.approx(0.03)
        with pytest.raises(BudgetExceeded, match="--budget-usd"):
            m.complete([{"role": "user", "content": "another"}])
        # cache hits are free and still served
        assert m.complete(reqs[0].messages, max_tokens=16)[0].cached
    with sqlite3.connect(default_cache_path()) as c:
        assert c.execute("SELECT SUM(cost_usd) FROM calls").fetchone()[0] == pytest.approx(0.03)


def test_model_usable_in_a_forked_child(fault_server: FaultServer, tmp_path: Path) -> None:
    import os
    import signal

    url = fault_server.script("fork", [])
    with model_for(url, tmp_path) as m:
        m.complete(MSG, max_tokens=16)  # the loop thread and the DB connection now exist
        pid = os.fork()
        if pid == 0:  # child: the parent's loop thread is gone; the model must not hang
            signal.alarm(30)
            try:
                [c] = m.complete(MSG, max_tokens=17)
                os._exit(0 if c.text == OK_TEXT and not c.cached else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert m.complete(MSG, max_tokens=17)[0].cached  # the child's answer is in the shared cache
    assert fault_server.counts["fork"] == 2


def test_budget_ledger_holds_the_cap_across_restarts(fault_server: FaultServer, tmp_path: Path) -> None:
    """A run killed after paying and started again must not get a fresh budget: the ledger carries it."""
    from sample_forge.errors import InputError
    from sample_forge.llm import Budget

    url = fault_server.script("ledger", [])
    ledger = tmp_path / "out.spent.jsonl"
    reqs = [Request([{"role": "user", "content": f"q{i}"}], max_tokens=16) for i in range(5)]
    with model_for(
        url,
        tmp_path,
        max_concurrency=1,
        budget=Budget(0.04, ledger=ledger),
        extra="price_in = 1000\nprice_out = 1000\n",
    ) as m:
        assert [r.ok for r in m.complete_many(reqs[:2])] == [True, True]  # $0.03, then "killed"
    assert len(ledger.read_bytes().splitlines()) == 2
    with model_for(
        url,
        tmp_path,
        max_concurrency=1,
        budget=Budget(0.04, ledger=ledger),
        extra="price_in = 1000\nprice_out = 1000\n",
    ) as m:
        assert m.budget is not None and m.budget.earlier_usd == pytest.approx(0.03)
        results = m.complete_many(reqs)
        # the two paid answers come from the cache; one more call fits under $0.04, then the cap stops
        assert [r.ok for r in results] == [True, True, True, False, False]
        assert results[0].completions[0].cached and not results[2].completions[0].cached
        assert "by earlier runs" in (results[3].error or "") and str(ledger) in (results[3].error or "")
        assert m.budget.run_usd == pytest.approx(0.015) and m.budget.spent_usd == pytest.approx(0.045)
    assert fault_server.counts["ledger"] == 3
    # without the ledger the same restart would have paid for two more calls
    with model_for(
        url, tmp_path, max_concurrency=1, budget=0.04, extra="price_in = 1000\nprice_out = 1000\n"
    ) as m:
        assert sum(r.ok for r in m.complete_many(reqs)) == 5
    assert fault_server.counts["ledger"] == 5

    # a line cut by a kill mid-write is dropped, and the next charge starts a line of its own
    ledger.write_bytes(ledger.read_bytes() + b'{"time": 1, "us')
    b = Budget(1.0, ledger=ledger)
    assert b.earlier_usd == pytest.approx(0.045)
    b.charge(0.005, "m")
    assert Budget(1.0, ledger=ledger).earlier_usd == pytest.approx(0.05)
    assert len(ledger.read_bytes().splitlines()) == 4
    # a damaged line elsewhere is an error naming it
    lines = ledger.read_bytes().splitlines()
    ledger.write_bytes(b"\n".join([lines[0], b"garbage", *lines[1:]]) + b"\n")
    with pytest.raises(InputError, match=r"spent\.jsonl:2.*usd"):
        Budget(1.0, ledger=ledger)


def test_overlapping_requests_of_a_batch_pay_each_sample_once(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    """n=2 and n=4 of one prompt in one batch are samples 0-1 and 0-3: one call for 4 samples, not 6.
    A disjoint range (samples 6-7) is its own call; a failure of a shared call reaches every member."""
    url = fault_server.script("overlap", [])
    with model_for(url, tmp_path) as m:
        reqs = [
            Request(MSG, n=2, max_tokens=16),
            Request(MSG, n=4, max_tokens=16),
            Request(MSG, n=2, max_tokens=16, index=6),
            Request(MSG, n=1, max_tokens=16, index=3),
        ]
        res = m.complete_many(reqs)
        assert [len(r.completions) for r in res] == [2, 4, 2, 1] and all(r.ok for r in res)
        asked = sorted(int(r.get("n") or 1) for r in fault_server.requests["overlap"])
        assert asked == [2, 4]  # 6 samples paid for, not 9
        assert m.last_summary["called"] == 4 and m.last_summary["failed"] == 0
        # the same batch again: everything from the cache
        again = m.complete_many(reqs)
        assert all(c.cached for r in again for c in r.completions)
        assert len(fault_server.requests["overlap"]) == 2
    url = fault_server.script("overlap500", ["500"])
    with model_for(url, tmp_path, max_retries=0) as m:
        res = m.complete_many([Request(MSG, n=1, max_tokens=16), Request(MSG, n=3, max_tokens=16)])
        assert all(r.error_kind == "http" and not r.completions for r in res)
        assert len(fault_server.requests["overlap500"]) == 1
