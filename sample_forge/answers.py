"""Final answers: extract the last ``\\boxed{}`` of a solution, and check answer equivalence with
math-verify (``verify(parse(gold), parse(pred))``, gold first).

math-verify times out with ``signal.alarm``, which only works in the main thread, and a pathological
LaTeX string can still hang sympy. So :class:`AnswerChecker` runs it in worker *processes* and
enforces a hard per-item timeout from the parent: a worker that overruns is killed and replaced, the
item gets ``None`` and the rest of its batch goes on in the new worker.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import multiprocessing
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = [
    "extract_boxed",
    "AnswerChecker",
    "Verdict",
    "is_equivalent",
    "can_parse",
    "prepare_answer",
]

# ---------------------------------------------------------------------------------------------
# extraction

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def _balanced(text: str, start: int) -> int | None:
    """Index just past the brace group opening at ``text[start] == '{'``, or None if unclosed.
    Escaped braces (``\\{``, ``\\}``) are literal set braces in LaTeX and do not count."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2  # skip the escaped char (covers \{, \} and \\)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _box_content(text: str, m: re.Match[str]) -> str | None:
    i = m.end()
    n = len(text)
    j = i
    while j < n and text[j] in " \t":
        j += 1
    if j < n and text[j] == "{":
        end = _balanced(text, j)
        if end is None:
            return None
        return text[j + 1 : end - 1].strip()
    if j > i and j < n:
        # ``\boxed 5$``: MATH's own rule, the content runs to the closing ``$`` (or line end).
        rest = re.split(r"[$\n]", text[j:], maxsplit=1)[0]
        return rest.strip()
    return None


def extract_boxed(text: str | None) -> str | None:
    """Content of the LAST ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces, ``\\boxed 5`` form).

    A box that never closes is skipped in favour of the one before it; an empty ``\\boxed{}``
    gives None (no answer), like the MATH reference extraction.
    """
    if not text:
        return None
    for m in reversed(list(_BOX_RE.finditer(text))):
        content = _box_content(text, m)
        if content is None:
            continue
        return content or None
    return None


# ---------------------------------------------------------------------------------------------
# math-verify, run where signals work


_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")  # ``\$30`` is a price, not math mode


def prepare_answer(s: str) -> str:
    """Wrap a bare answer in ``$...$`` so math-verify's LaTeX extractor sees all of it: bare,
    ``\\frac{\\sqrt{3}}{2}`` would parse as ``3`` and ``[-2,7]`` not at all."""
    s = str(s).strip()
    if _UNESCAPED_DOLLAR.search(s) or "\\boxed" in s or "\\(" in s or "\\[" in s:
        return s
    return f"${s}$"


@dataclass(frozen=True)
class Verdict:
    """One equivalence check: ``equivalent`` is None when it could not be decided; ``reason`` says why."""

    equivalent: bool | None
    reason: str  # equivalent | not equivalent | gold unparseable | pred unparseable | timeout | error: ...


def _soft_timeout(timeout: float) -> int:
    # math-verify's own alarm per phase; the parent's hard timeout covers the whole item.
    return max(1, int(math.ceil(timeout)))


def _verdict(gold: str, pred: str, timeout: float) -> Verdict:
    from math_verify import parse, verify

    t = _soft_timeout(timeout)
    try:
        g = parse(prepare_answer(gold), parsing_timeout=t)
        if not g:
            return Verdict(None, "gold unparseable")
        p = parse(prepare_answer(pred), parsing_timeout=t)
        if not p:
            return Verdict(None, "pred unparseable")
        ok = verify(g, p, timeout_seconds=t)
    except Exception as e:  # math-verify swallows most errors; anything left is one item's problem
        return Verdict(None, f"error: {type(e).__name__}: {str(e)[:200]}")
    return Verdict(bool(ok), "equivalent" if ok else "not equivalent")


def _parses(answer: str, timeout: float) -> Verdict:
    from math_verify import parse

    try:
        parsed = parse(prepare_answer(answer), parsing_timeout=_soft_timeout(timeout))
        # math-verify appends the raw string as a fallback; only a math object counts as parsed
        # ('?' or '---' would otherwise pass and then match nothing a model writes)
        ok = any(not isinstance(x, str) for x in parsed)
    except Exception as e:
        return Verdict(None, f"error: {type(e).__name__}: {str(e)[:200]}")
    return Verdict(ok, "parses" if ok else "unparseable")


def _run_op(op: str, a: str, b: str, timeout: float) -> Verdict:
    if op == "parse":
        return _parses(a, timeout)
    return _verdict(a, b, timeout)


def _worker_main(conn: Connection, timeout: float) -> None:
    """Worker process loop: receive a batch, answer item by item (so the parent can time each)."""
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _verdict("1", "1", timeout)  # warm up sympy/latex2sympy before saying ready
    conn.send(("ready", None))
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for item_id, op, a, b in batch:
            v = _run_op(op, a, b, timeout)
            conn.send((item_id, (v.equivalent, v.reason)))


def _mp_context() -> Any:
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        # forks from a server that already imported math-verify + sympy start in a fraction of a second
        ctx.set_forkserver_preload(["sample_forge.answers", "math_verify", "sympy"])
        return ctx
    return multiprocessing.get_context("spawn")


_start_lock = threading.Lock()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start workers without re-importing the caller's ``__main__`` in them.

    spawn/forkserver children import the parent's main script (as ``__mp_main__``) by default:
    an unguarded script would re-run itself there, and a training script would load torch in
    every worker. The worker needs nothing from ``__main__``, so the start sees none.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    with _start_lock:
        try:
            main.__spec__ = None
            main.__dict__.pop("__file__", None)
            yield
        finally:
            main.__dict__.update(saved)


class _Worker:
    def __init__(self, ctx: Any, timeout: float) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, timeout), daemon=True)
        with _main_module_hidden():
            self.proc.start()
        child.close()
        self.ready = False
        self.started = time.monotonic()
        self.batch: deque[tuple[int, str, str, str]] = deque()
        self.deadline = math.inf

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


_STARTUP_TIMEOUT = 120.0


class AnswerChecker:
    """math-verify equivalence in a process pool with a hard per-item timeout.

    ``with AnswerChecker(timeout=5) as c: c.check_many([(gold, pred), ...])``. Results come back in
    input order; None means timed out or unparseable (see :meth:`verdicts` for the reason).
    Workers start on first use and live until :meth:`close`.
    """

    def __init__(
        self, timeout: float = 5.0, workers: int | None = None, chunk_size: int | None = None
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.timeout = float(timeout)
        if workers is None:
            try:
                cpus = len(os.sched_getaffinity(0))
            except AttributeError:
                cpus = os.cpu_count() or 1
            workers = max(1, min(4, cpus))
        self.n_workers = max(1, int(workers))
        self.chunk_size = chunk_size
        self._workers: list[_Worker] = []
        self._ctx: Any = None
        self._lock = threading.Lock()  # one batch at a time; the pool is shared, not re-entrant
        self.timeouts = 0  # items killed by the hard timeout, over the checker's life
        self.restarts = 0

    # -- lifecycle
    def __enter__(self) -> AnswerChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            w.stop()

    def __del__(self) -> None:
        try:
            for w in self._workers:
                w.kill()
        except Exception:
            pass

    # -- public API
    def check(self, gold: str, pred: str) -> bool | None:
        return self.check_many([(gold, pred)])[0]

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[bool | None]:
        return [v.equivalent for v in self.verdicts(pairs)]

    def verdicts(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        """Like :meth:`check_many`, with the reason for each verdict."""
        return self._run([("verify", str(g), str(p)) for g, p in pairs])

    def can_parse_many(self, answers: Sequence[str]) -> list[bool | None]:
        return [v.equivalent for v in self._run([("parse", str(a), "") for a in answers])]

    # -- the scheduler
    def _spawn(self) -> _Worker:
        if self._ctx is None:
            self._ctx = _mp_context()
        return _Worker(self._ctx, self.timeout)

    def _chunk(self, n: int) -> int:
        if self.chunk_size:
            return self.chunk_size
        # a few chunks per worker keeps all busy to the end; <= 32 bounds the requeue after a kill
        return max(1, min(32, n // (self.n_workers * 4) or 1))

    def _run(self, items: list[tuple[str, str, str]]) -> list[Verdict]:
        n = len(items)
        out: list[Verdict | None] = [None] * n
        if n == 0:
            return []
        with self._lock:
            try:
                self._schedule(items, out)
            except BaseException:
                # interrupted mid-batch: workers hold stale work, so do not reuse them
                for w in self._workers:
                    w.kill()
                self._workers = []
                raise
        return [v if v is not None else Verdict(None, "error: lost") for v in out]

    def _schedule(self, items: list[tuple[str, str, str]], out: list[Verdict | None]) -> None:
        size = self._chunk(len(items))
        todo: deque[list[tuple[int, str, str, str]]] = deque(
            [(i, *items[i]) for i in range(s, min(s + size, len(items)))] for s in range(0, len(items), size)
        )
        while len(self._workers) < min(self.n_workers, len(todo)):
            self._workers.append(self._spawn())
        remaining = len(items)

        def replace(w: _Worker, reason: str) -> None:
            # the item in flight gets ``reason``; the rest of its batch goes back to the queue
            w.kill()
            self.restarts += 1
            if w.batch:
                item_id = w.batch.popleft()[0]
                out[item_id] = Verdict(None, reason)
            rest = list(w.batch)
            w.batch.clear()
            if rest:
                todo.appendleft(rest)
            self._workers[self._workers.index(w)] = self._spawn()

        while remaining:
            now = time.monotonic()
            for w in self._workers:
                if w.ready and not w.batch and todo:
                    batch = todo.popleft()
                    w.batch.extend(batch)
                    w.conn.send(batch)
                    w.deadline = time.monotonic() + self.timeout
            busy = [w for w in self._workers if w.batch or not w.ready]
            deadlines = [w.deadline if w.ready else w.started + _STARTUP_TIMEOUT for w in busy]
            wait_s = max(0.0, min(deadlines) - now) if deadlines else None
            ready_conns = wait([w.conn for w in busy], timeout=wait_s)
            by_conn = {id(w.conn): w for w in busy}
            for c in ready_conns:
                w = by_conn[id(c)]
                try:
                    while c.poll():
                        item_id, payload = c.recv()
                        if item_id == "ready":
                            w.ready = True
                            continue
                        expected = w.batch.popleft()[0]
                        if expected != item_id:  # cannot happen with one pipe per worker
                            raise RuntimeError("answer worker out of sync")
                        out[item_id] = Verdict(*payload)
                        remaining -= 1
                        w.deadline = time.monotonic() + self.timeout
                except (EOFError, OSError):
                    # the worker died (segfault, OOM kill): its current item is an error, not a hang
                    if not w.ready:
                        raise RuntimeError("answer-check worker failed to start") from None
                    if w.batch:
                        remaining -= 1
                    replace(w, "error: worker died")
            now = time.monotonic()
            for w in list(self._workers):
                if w.ready and w.batch and now >= w.deadline:
                    self.timeouts += 1
                    remaining -= 1
                    replace(w, "timeout")
                elif not w.ready and now >= w.started + _STARTUP_TIMEOUT:
                    raise RuntimeError("answer-check worker did not start in time")


# ---------------------------------------------------------------------------------------------
# module-level conveniences

_shared: AnswerChecker | None = None
_shared_lock = threading.Lock()


def _shared_checker(timeout: float) -> AnswerChecker:
    global _shared
    with _shared_lock:
        if _shared is None or _shared.timeout != float(timeout):
            if _shared is not None:
                _shared.close()
            _shared = AnswerChecker(timeout=timeout, workers=1)
            atexit.register(_shared.close)
        return _shared


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def is_equivalent(gold: str, pred: str, timeout: float = 5.0) -> bool | None:
    """One check. In the main thread math-verify runs right here (its signal timeout works);
    from any other thread it goes to a shared one-worker process pool with a hard timeout."""
    if _in_main_thread():
        return _verdict(gold, pred, timeout).equivalent
    return _shared_checker(timeout).check(gold, pred)


def can_parse(answer: str, timeout: float = 5.0) -> bool:
    """True when math-verify extracts a math object from the answer (after ``$...$`` wrapping),
    not just its string fallback."""
    if answer is None or not str(answer).strip():
        return False
    if _in_main_thread():
        return bool(_parses(answer, timeout).equivalent)
    return bool(_shared_checker(timeout).can_parse_many([answer])[0])
