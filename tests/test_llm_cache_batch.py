"""The layer commits the samples and calls rows of the calls that finish in one event-loop turn in one
transaction: every answer is still in the file (seen from another connection) once its call returns,
and a write that fails rolls its whole batch back (nothing half-written), is logged, and fails the calls
of that batch: an answer the cache did not keep is not reported as done (a restart asks for it again,
and the summary says so)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sample_forge.llm import Request
from sample_forge.llm.cache import default_cache_path
from tests.fixtures.llm_servers import FaultServer
from tests.test_llm_faults import model_for


def _reqs(n: int) -> list[Request]:
    return [Request([{"role": "user", "content": f"What is {i}+1?"}], n=4, max_tokens=16) for i in range(n)]


def _count(table: str) -> int:
    with sqlite3.connect(default_cache_path()) as c:
        return c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_concurrent_calls_are_all_committed_when_they_return(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    url = fault_server.script("batch", [])
    with model_for(url, tmp_path, max_concurrency=8) as m:
        res = m.complete_many(_reqs(24))
        assert all(r.ok and len(r.completions) == 4 for r in res)
        # another connection, while the model is still open: nothing waits in memory
        assert _count("responses") == 96 and _count("calls") == 24
        again = m.complete_many(_reqs(24))
    assert all(c.cached for r in again for c in r.completions)
    assert fault_server.counts["batch"] == 24


def test_a_failed_write_rolls_the_batch_back_and_is_logged(
    fault_server: FaultServer, tmp_path: Path, caplog
) -> None:
    url = fault_server.script("broken", [])
    with model_for(url, tmp_path, max_concurrency=8) as m:
        m.complete_many(_reqs(1))  # creates the file
        with sqlite3.connect(default_cache_path()) as c:
            c.execute("DROP TABLE calls")  # the calls row of the next batch cannot be written
        res = m.complete_many(_reqs(6)[1:])
        summary = m.last_summary
    assert not any(r.ok for r in res) and all(r.error_kind == "internal" for r in res), [r.error for r in res]
    assert summary["failed"] == 5, summary
    assert "no such table: calls" in caplog.text
    assert _count("responses") == 4  # the first call's samples only: the failed batch rolled back
