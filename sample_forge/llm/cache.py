"""SQLite cache and call log of the LLM layer.

One file holds both: ``responses`` (successful samples, keyed by a hash of the exact request payload
plus the sample index, so a killed job that is re-run pays only for what had not finished) and ``calls``
(every HTTP/in-process call: model, parameters, tokens, latency, cost, time, error) and ``failures``
(samples that ended at ``max_tokens``: keyed like ``responses``, so the same settings are not asked
again, while more tokens or another schema is another key). WAL mode lets several
processes share it. The schema only grows through the append-only ``MIGRATIONS`` list.
API keys are never passed to this module.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from sample_forge.errors import SampleForgeError
from sample_forge.records import Completion

__all__ = ["Cache", "default_cache_path", "payload_hash", "sample_key", "MIGRATIONS"]

CACHE_ENV = "SAMPLE_FORGE_CACHE_DB"

# Append only: never edit or reorder an entry, add a new one. Each runs once, inside a transaction.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "responses and calls",
        """
        CREATE TABLE responses (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            base_url TEXT NOT NULL,
            text TEXT NOT NULL,
            finish_reason TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            latency_s REAL NOT NULL DEFAULT 0,
            created REAL NOT NULL
        );
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            payload_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            base_url TEXT NOT NULL,
            params TEXT NOT NULL,
            messages TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            response TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            latency_s REAL NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX calls_time ON calls(time);
    """,
    ),
    (
        "failures: samples that ended at max_tokens, with their settings",
        """
        CREATE TABLE failures (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            params TEXT NOT NULL,
            error TEXT,
            created REAL NOT NULL
        );
    """,
    ),
]


def default_cache_path() -> Path:
    """``$SAMPLE_FORGE_CACHE_DB`` or ``<user cache dir>/llm.sqlite``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from sample_forge.paths import cache_dir

    return cache_dir() / "llm.sqlite"


def payload_hash(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a request payload (model, base_url, messages, params)."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def sample_key(phash: str, index: int) -> str:
    return f"{phash}:{index}"


_PUT_SQL = "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_LOG_SQL = (
    "INSERT INTO calls (time, payload_hash, model, base_url, params, messages, status, error, "
    "response, prompt_tokens, completion_tokens, latency_s, cost_usd) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _call_row(
    now: float,
    *,
    phash: str,
    model: str,
    base_url: str,
    params: dict[str, Any],
    messages: list[dict[str, Any]],
    status: str,
    error: str | None = None,
    response: Any = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    latency_s: float = 0.0,
    cost_usd: float = 0.0,
) -> tuple[Any, ...]:
    return (
        now,
        phash,
        model,
        base_url,
        orjson.dumps(params).decode(),
        orjson.dumps(messages).decode(),
        status,
        error,
        None if response is None else orjson.dumps(response).decode(),
        prompt_tokens,
        completion_tokens,
        latency_s,
        cost_usd,
    )


class Cache:
    """Thread-safe handle on the cache/log file (one connection, one lock; WAL for other processes)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._connect()
            self._migrate()
        except sqlite3.Error as e:
            raise SampleForgeError(
                f"{self.path}: cannot open the LLM cache ({e}); use --cache-db or "
                f"{CACHE_ENV} for another file, or --no-cache"
            ) from None

    def _connect(self) -> None:
        self._pid = os.getpid()
        self._conn_obj = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        self._conn_obj.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across a process kill in WAL mode (only an OS crash can lose the tail).
        self._conn_obj.execute("PRAGMA synchronous=NORMAL")

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a forked child must not use its parent's connection
            self._connect()
        return self._conn_obj

    def _migrate(self) -> None:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(
                    "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied REAL NOT NULL)"
                )
                done = {r[0] for r in c.execute("SELECT version FROM migrations")}
                for version, (name, sql) in enumerate(MIGRATIONS, start=1):
                    if version in done:
                        continue
                    for stmt in sql.split(";"):
                        if stmt.strip():
                            c.execute(stmt)
                    c.execute("INSERT INTO migrations VALUES (?, ?, ?)", (version, name, time.time()))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        if not keys:
            return {}
        with self._lock:
            if len(keys) == 1:
                rows = self._conn.execute(
                    "SELECT key, model, text, finish_reason, prompt_tokens, completion_tokens, latency_s "
                    "FROM responses WHERE key = ?",
                    (keys[0],),
                ).fetchall()
            else:
                marks = ",".join("?" * len(keys))
                rows = self._conn.execute(
                    "SELECT key, model, text, finish_reason, prompt_tokens, completion_tokens, latency_s "
                    f"FROM responses WHERE key IN ({marks})",
                    tuple(keys),
                ).fetchall()
        return {
            r[0]: Completion(
                text=r[2],
                finish_reason=r[3],
                prompt_tokens=r[4],
                completion_tokens=r[5],
                latency_s=r[6],
                cached=True,
                model=r[1],
            )
            for r in rows
        }

    def put(self, key: str, base_url: str, c: Completion) -> None:
        self.record([(key, base_url, c)])

    def record(
        self, samples: Sequence[tuple[str, str, Completion]], call: dict[str, Any] | None = None
    ) -> None:
        """The samples of one call (key, base_url, completion) and, with ``call`` (the fields of
        :meth:`log_call`), its calls row, in one transaction."""
        self.record_calls([(samples, call)])

    def record_calls(
        self, calls: Sequence[tuple[Sequence[tuple[str, str, Completion]], dict[str, Any] | None]]
    ) -> None:
        """Several calls' samples and calls rows in one transaction: one commit for all of them."""
        now = time.time()
        rows = [
            (
                key,
                c.model,
                url,
                c.text,
                c.finish_reason,
                c.prompt_tokens,
                c.completion_tokens,
                c.latency_s,
                now,
            )
            for samples, _ in calls
            for key, url, c in samples
        ]
        logged = [_call_row(now, **call) for _, call in calls if call is not None]
        with self._lock:
            conn = self._conn
            if len(rows) + len(logged) == 1:  # autocommit: one statement is its own transaction
                if rows:
                    conn.execute(_PUT_SQL, rows[0])
                else:
                    conn.execute(_LOG_SQL, logged[0])
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_PUT_SQL, rows)
                conn.executemany(_LOG_SQL, logged)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def failed_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The recorded failures among ``keys``: key -> {kind, params, error}."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT key, kind, params, error FROM failures WHERE key IN ({marks})", tuple(keys)
            ).fetchall()
        return {r[0]: {"kind": r[1], "params": orjson.loads(r[2]), "error": r[3]} for r in rows}

    def put_failure(self, key: str, kind: str, params: dict[str, Any], error: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                (key, kind, orjson.dumps(params).decode(), error, time.time()),
            )

    def forget_failures(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        marks = ",".join("?" * len(keys))
        with self._lock:
            self._conn.execute(f"DELETE FROM failures WHERE key IN ({marks})", tuple(keys))

    def log_call(self, **call: Any) -> None:
        """One row of the calls table: ``phash, model, base_url, params, messages, status`` and
        optionally ``error, response, prompt_tokens, completion_tokens, latency_s, cost_usd``."""
        row = _call_row(time.time(), **call)
        with self._lock:
            self._conn.execute(_LOG_SQL, row)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            n_resp = self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            n_fail = self._conn.execute("SELECT COUNT(*) FROM failures").fetchone()[0]
            row = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(cost_usd), 0), COALESCE(SUM(status != 'ok'), 0) FROM calls"
            ).fetchone()
        return {
            "responses": n_resp,
            "calls": row[0],
            "cost_usd": row[1],
            "failed_calls": row[2],
            "failures": n_fail,
        }

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r})"
