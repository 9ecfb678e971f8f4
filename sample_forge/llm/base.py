"""The one interface every LLM call goes through: ``Model.complete`` and ``Model.complete_many``.

A backend only implements ``_achat`` (one chat call, possibly with ``n`` choices). Everything else is
here, once: the cache lookup, asking again for the samples a server did not return (``n > 1`` ignored),
validation (``finish_reason == "length"`` and empty or malformed bodies are failures, never answers),
retries with backoff for what the HTTP client does not retry itself, the budget, bounded concurrency
and the call log. Calls run on one private event-loop thread per model, so the sync ``complete`` works
from any thread (and inside a running event loop) and one async HTTP client is reused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_forge.errors import BudgetExceeded, LLMError
from sample_forge.llm.budget import Budget, call_cost
from sample_forge.llm.cache import Cache, payload_hash, sample_key
from sample_forge.llm.config import ModelConfig, safe_url
from sample_forge.records import Completion

__all__ = ["Model", "Request", "Result", "LLMError", "BudgetExceeded", "MalformedResponse"]

log = logging.getLogger("sample_forge.llm")


# ``progress(items, total=N, description=TEXT)`` yields ``items`` while showing how far they got: the
# CLI passes its rich bar; the library itself never prints.
ProgressBar = Callable[..., Iterable[Any]]


class MalformedResponse(Exception):
    """A 200 answer that is not an answer (truncated JSON, no choices, empty body). The HTTP client
    does not retry these, so the layer does, with exponential backoff and jitter."""


@dataclass
class Request:
    """One prompt to sample ``n`` times. ``index`` is the sample index of the first of the ``n``
    samples: the cache holds each (payload, sample index) once, so samples 0..7 of a prompt asked as
    ``n=8`` or as eight ``n=1, index=i`` requests are the same cached samples. ``id`` is free for the
    caller (copied to the failures file). ``schema``: a JSON schema the reply must follow, sent when
    the model supports structured output (``Model.supports_schema``) and then part of the cache key."""

    messages: list[dict[str, Any]]
    n: int = 1
    temperature: float = 0.7
    max_tokens: int = 512
    seed: int | None = None
    index: int = 0
    id: str | None = None
    schema: dict[str, Any] | None = None


@dataclass
class Result:
    """What came back for one Request. On failure ``error`` says why (``error_kind``: "length",
    "malformed", "http", "budget", "internal") and ``completions`` holds the samples that did succeed."""

    request: Request
    completions: list[Completion] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ChatReply:
    """One raw chat call as a backend returns it."""

    choices: list[tuple[str | None, str | None]]  # (text, finish_reason) in choice order
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    endpoint: str = ""  # the replica that answered (masked), for the call log; never in a cache key


@dataclass(frozen=True)
class Call:
    """What one backend call sends: the arguments of the ``_achat`` hook."""

    messages: list[dict[str, Any]]
    n: int
    temperature: float
    max_tokens: int
    seed: int | None
    schema: dict[str, Any] | None = None


@dataclass
class _Merged:
    """One call for requests of a batch whose samples overlap (same payload, overlapping sample ranges):
    ``slots`` covers the union, ``members`` are (position in the batch, offset into ``slots``)."""

    request: Request
    slots: list[Completion | None]
    members: list[tuple[int, int]]


def _merge_ranges(items: list[tuple[int, Request, list[Completion | None]]]) -> list[_Merged]:
    """Requests of one payload whose sample ranges overlap share one call, so no sample is paid twice
    (``n=4`` and ``n=8`` of the same prompt in one batch ask for 8 samples, not 12)."""
    jobs: list[_Merged] = []
    for i, req, slots in sorted(items, key=lambda t: (t[1].index, -t[1].n)):
        last = jobs[-1] if jobs else None
        if last is not None and req.index < last.request.index + last.request.n:
            start = last.request.index
            end = max(start + last.request.n, req.index + req.n)
            last.slots.extend([None] * (end - start - len(last.slots)))
            for j, c in enumerate(slots):
                if c is not None and last.slots[req.index - start + j] is None:
                    last.slots[req.index - start + j] = c
            last.request = dataclasses.replace(last.request, n=end - start)
            last.members.append((i, req.index - start))
        else:
            jobs.append(_Merged(req, list(slots), [(i, 0)]))
    return jobs


Todo = dict[str, list[tuple[int, Request, list[Completion | None]]]]


def _settings(req: Request) -> dict[str, Any]:
    """The sampling settings of a request, as the calls and failures tables record them."""
    return {"temperature": req.temperature, "max_tokens": req.max_tokens, "seed": req.seed}


def answer_known(
    model: Model, requests: Sequence[Request], retry_failed: bool | None
) -> tuple[list[Result | None], Todo, int, int]:
    """A batch's start, in one process or on Ray: validate every request, answer the ones the cache
    holds and the ones known to end at ``max_tokens`` (not resent unless ``retry_failed``, default
    ``model.retry_failed``); the rest are grouped by payload hash. Returns (results with ``None`` where
    still to run, that todo, cached count, not-resent count) and adds the latter to
    ``model.not_resent_total``."""
    retry = model.retry_failed if retry_failed is None else retry_failed
    for r in requests:
        _validate(r)
    results: list[Result | None] = [None] * len(requests)
    todo: Todo = {}
    not_resent = 0
    for i, req in enumerate(requests):
        phash, slots = model._lookup(req)
        if all(c is not None for c in slots):
            results[i] = Result(req, slots)  # type: ignore[arg-type]
        elif (known := model._known_length(req, phash, slots, retry)) is not None:
            results[i] = known
            not_resent += 1
        else:
            todo.setdefault(phash, []).append((i, req, slots))
    n_cached = sum(r is not None for r in results) - not_resent
    model.not_resent_total += not_resent
    return results, todo, n_cached, not_resent


def fill_members(
    results: list[Result | None],
    requests: Sequence[Request],
    job: _Merged,
    error: str | None,
    error_kind: str | None,
) -> None:
    """Each request of a finished merged call gets its share of ``job.slots``; one missing a sample
    fails with the call's error."""
    for i, offset in job.members:
        req = requests[i]
        mine = job.slots[offset : offset + req.n]
        if all(c is not None for c in mine):
            results[i] = Result(req, mine)  # type: ignore[arg-type]
        else:
            got = [c for c in mine if c is not None]
            results[i] = Result(req, got, error or "samples missing", error_kind or "internal")


class Model:
    """A named model. Build it with ``sample_forge.llm.get_model``."""

    #: whether one call may ask for n > 1 choices; set False when a server returns fewer than asked.
    supports_n: bool = True
    #: first backoff delay (seconds) for malformed answers; doubles per attempt, +-25% jitter, max 8 s.
    backoff_base_s: float = 0.5
    #: ask again for samples recorded as ended at max_tokens with the same settings (``--retry-failed``)
    retry_failed: bool = False

    def __init__(
        self, config: ModelConfig, *, cache: Cache | None = None, budget: Budget | None = None
    ) -> None:
        self.config = config
        self.name = config.name
        self.cache = cache
        self.budget = budget
        self.last_summary: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()
        self._sem: asyncio.Semaphore | None = None
        self._pid = os.getpid()
        # "auto" starts at json_schema and steps down when an endpoint rejects it (per process)
        mode = config.structured_output
        self.structured_mode: str = "json_schema" if mode == "auto" else mode
        self.not_resent_total = 0  # requests answered "length" from the failures table, all batches
        self._pending: list[tuple[list[tuple[str, str, Completion]], dict[str, Any]]] = []
        self._flushed: asyncio.Future[None] | None = None  # the pending batch's commit (loop thread)

    @property
    def concurrency(self) -> int:
        """Calls in flight at once: ``max_concurrency`` per replica."""
        return max(1, self.config.max_concurrency)

    @property
    def supports_schema(self) -> bool:
        """Whether a Request's ``schema`` is sent (else the caller's prompt asks for its tag format)."""
        return self.structured_mode != "none"

    # -- backend hooks -------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """Where the model is served; part of the cache key (same model id elsewhere = other model)."""
        raise NotImplementedError

    @property
    def shown_endpoint(self) -> str:
        """``endpoint`` with credentials masked: the form for messages, logs and the cache's columns."""
        return safe_url(self.endpoint) or ""

    async def _achat(self, call: Call) -> ChatReply:
        """One call (``call.schema``: constrain the reply, as ``structured_mode`` says). Raise LLMError for a
        final failure (the HTTP client already retried), MalformedResponse for a body that is not an
        answer."""
        raise NotImplementedError

    async def _aclose(self) -> None:
        return None

    async def _closing(self) -> None:
        if self._flushed is not None:  # a batch whose commit was scheduled but has not run: run it now
            self._flush()
        self._pending, self._flushed = [], None  # a model used after close() starts a new loop
        await self._aclose()

    async def _aready(self) -> None:
        """Load what the first call needs (not timed as call latency)."""
        return None

    def _forget_client(self) -> None:
        """Drop per-process state after a fork (the HTTP client belongs to the parent's loop)."""
        return None

    # -- public API ----------------------------------------------------------------------------
    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        n: int = 1,
        temperature: float = 0.7,
        max_tokens: int = 512,
        seed: int | None = None,
        index: int = 0,
        schema: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """``n`` completions of ``messages`` (cached ones first). Raises LLMError after the retry
        budget (BudgetExceeded when the budget cap stops it); samples that did succeed stay cached."""
        req = Request(
            messages,
            n=n,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            index=index,
            schema=schema,
        )
        _validate(req)
        phash, slots = self._lookup(req)
        if all(c is not None for c in slots):
            return slots  # type: ignore[return-value]
        known = self._known_length(req, phash, slots, self.retry_failed)
        if known is not None:
            raise LLMError(f"model '{self.name}': {known.error}")
        res = self._submit(self._arun(req, phash, slots)).result()
        if res.error is not None:
            cls = BudgetExceeded if res.error_kind == "budget" else LLMError
            raise cls(f"model '{self.name}': {res.error}")
        return res.completions

    def complete_many(
        self,
        requests: Sequence[Request],
        *,
        progress: ProgressBar | None = None,
        failures_path: str | Path | None = None,
        retry_failed: bool | None = None,
    ) -> list[Result]:
        """Run all requests (at most ``max_concurrency`` calls at a time per replica); results in input order.
        Failures are recorded on ``Result.error`` and never raised; with ``failures_path`` they are
        also appended there as JSONL. ``progress`` wraps the finished calls as they come in (a bar).
        A sample that ended at ``max_tokens`` before with the same settings is not sent again (a
        ``length`` failure at once) unless ``retry_failed`` (default: ``self.retry_failed``).
        ``self.last_summary`` counts what happened; its ``message`` is the line to show a user."""
        core = self._core  # a wrapper (RayModel) borrows these steps; the counters and cache stay here
        results, todo, n_cached, not_resent = answer_known(core, requests, retry_failed)
        # requests whose samples overlap share one job: no sample paid twice
        jobs = [(phash, job) for phash, items in todo.items() for job in _merge_ranges(items)]
        self._dispatch(jobs, results, requests, progress)
        out: list[Result] = results  # type: ignore[assignment]
        core._summarize(out, n_cached, failures_path, not_resent)
        return out

    @property
    def _core(self) -> Model:
        """The model that holds the cache, the budget and the counters (a wrapper's is the wrapped one)."""
        return self

    def _dispatch(
        self,
        jobs: list[tuple[str, _Merged]],
        results: list[Result | None],
        requests: Sequence[Request],
        progress: ProgressBar | None,
    ) -> None:
        """Send the jobs that the cache could not answer and fill ``results`` as they finish. The
        whole batch crosses to the loop thread in one hand-off (one per call was most of what the
        layer added to the openai client against a fast server); answers come back through a queue."""
        finished: queue.SimpleQueue[tuple[int, Result]] = queue.SimpleQueue()

        async def one(k: int, phash: str, job: _Merged) -> None:
            finished.put((k, await self._arun(job.request, phash, job.slots)))

        async def run_all() -> None:
            tasks = [asyncio.ensure_future(one(k, phash, job)) for k, (phash, job) in enumerate(jobs)]
            try:
                await asyncio.gather(*tasks)
            finally:  # cancelled from the caller (an interrupt): no call goes on without it
                for t in tasks:
                    t.cancel()

        batch = self._submit(run_all()) if jobs else None  # no jobs: the bar still shows 0 of 0

        def arrivals() -> Iterable[tuple[int, Result]]:
            for _ in jobs:
                while True:
                    try:
                        yield finished.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if batch is not None and batch.done():
                            batch.result()  # the batch ended without this answer: its error
                            raise LLMError(f"model '{self.name}': the batch ended early") from None

        try:
            done: Iterable[Any] = arrivals()
            if progress is not None:
                done = progress(done, total=len(jobs), description=f"LLM {self.name}")
            for k, res in done:
                fill_members(results, requests, jobs[k][1], res.error, res.error_kind)
        except BaseException:
            if batch is not None:
                batch.cancel()
            raise

    def close(self) -> None:
        """Stop the model's event-loop thread and HTTP client (the cache stays open)."""
        with self._loop_lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._closing(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            loop.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self.config.model!r})"

    # -- internals -----------------------------------------------------------------------------
    def _payload(self, req: Request) -> dict[str, Any]:
        payload = {
            "model": self.config.model,
            "base_url": self.endpoint,
            "messages": req.messages,
            "temperature": req.temperature,
            "max_tokens": req.max_tokens,
            "seed": req.seed,
        }
        # only when sent: a request without a schema keeps the key it always had
        if req.schema is not None and self.supports_schema:
            payload["schema"] = req.schema
        return payload

    def _sent_schema(self, req: Request) -> dict[str, Any] | None:
        return req.schema if self.supports_schema else None

    def _known_length(
        self, req: Request, phash: str, slots: list[Completion | None], retry: bool
    ) -> Result | None:
        """A ``length`` Result without a call when every missing sample ended at ``max_tokens`` before
        with these very settings (the payload hash holds them all): asked again it can only fail again.
        With ``retry`` the record is dropped and the samples are asked for."""
        if self.cache is None:
            return None
        keys = [sample_key(phash, req.index + j) for j, c in enumerate(slots) if c is None]
        known = self.cache.failed_many(keys)
        if retry:
            self.cache.forget_failures(list(known))
            return None
        if len(known) < len(keys):
            return None
        return Result(
            req,
            [c for c in slots if c is not None],
            f"{len(keys)} sample(s) ended at max_tokens={req.max_tokens} before with the same settings; "
            "not re-sent (raise max_tokens, or --retry-failed to re-ask)",
            "length",
        )

    def _gave_up(self, phash: str, req: Request, j: int) -> None:
        """Sample ``j`` of ``req`` does not fit ``max_tokens``: recorded so it is not sent again with
        the same settings (a Ray worker, without a cache, hands these to the driver instead)."""
        if self.cache is not None:
            self.cache.put_failure(
                sample_key(phash, req.index + j),
                "length",
                {**_settings(req), "schema": req.schema is not None and self.supports_schema},
                f"finish_reason=length at max_tokens={req.max_tokens}",
            )

    def _resample_helps(self, req: Request) -> bool:
        """A sample cut at max_tokens is asked once more only when another draw can differ: greedy or
        seeded sampling returns the same tokens."""
        return req.temperature > 0 and req.seed is None

    def _lookup(self, req: Request) -> tuple[str, list[Completion | None]]:
        phash = payload_hash(self._payload(req))
        if self.cache is None:
            return phash, [None] * req.n
        keys = [sample_key(phash, req.index + j) for j in range(req.n)]
        got = self.cache.get_many(keys)
        return phash, [got.get(k) for k in keys]

    def _submit(self, coro: Coroutine[Any, Any, Result]) -> concurrent.futures.Future[Result]:
        with self._loop_lock:
            if self._loop is not None and self._pid != os.getpid():
                # forked child: the loop thread did not survive the fork
                self._loop = None
                self._pending, self._flushed = [], None
                self._forget_client()
            if self._loop is None:
                self._pid = os.getpid()
                self._loop = asyncio.new_event_loop()
                self._sem = None
                self._thread = threading.Thread(
                    target=self._loop.run_forever, daemon=True, name=f"sample-forge-llm-{self.name}"
                )
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:  # created on the loop thread, which is the only one using it
            self._sem = asyncio.Semaphore(self.concurrency)
        return self._sem

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_base_s * 2 ** (attempt - 1), 8.0) * (0.75 + 0.5 * random.random())

    async def _arun(self, req: Request, phash: str, slots: list[Completion | None]) -> Result:
        try:
            return await self._arun_inner(req, phash, slots)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a batch never raises: record it
            log.exception("unexpected error in an LLM call")
            return Result(req, [c for c in slots if c is not None], f"{type(e).__name__}: {e}", "internal")

    async def _arun_inner(self, req: Request, phash: str, slots: list[Completion | None]) -> Result:
        cfg = self.config
        params = _settings(req)
        malformed = 0  # empty / truncated answers so far (a property of the endpoint: per request)
        lengths: Counter[int] = Counter()  # samples cut at max_tokens (a property of the sample)
        given_up: set[int] = set()  # samples that do not fit max_tokens: recorded as failures

        def fail(msg: str, kind: str) -> Result:
            return Result(req, [c for c in slots if c is not None], msg, kind)

        while True:
            missing = [j for j, c in enumerate(slots) if c is None and j not in given_up]
            if not missing:
                if given_up:
                    return fail(
                        f"finish_reason=length for {len(given_up)} of {req.n} sample(s) "
                        f"(max_tokens={req.max_tokens} too small?)",
                        "length",
                    )
                return Result(req, slots)  # type: ignore[arg-type]
            ask = len(missing) if self.supports_n else 1
            # One seed per sample index, so re-asking for a missing sample asks for the same sample.
            seed = None if req.seed is None else req.seed + req.index + missing[0]
            call_params = {**params, "n": ask, "sent_seed": seed, "index": req.index + missing[0]}
            async with self._semaphore():
                # checked once a slot is free: calls that waited see what the running ones spent
                if self.budget is not None and self.budget.exhausted:
                    return fail(self.budget.message(), "budget")
                await self._aready()
                t0 = time.perf_counter()
                try:
                    reply: ChatReply | None = await self._achat(
                        Call(req.messages, ask, req.temperature, req.max_tokens, seed, self._sent_schema(req))
                    )
                    problem: Exception | None = None
                except (LLMError, MalformedResponse) as e:
                    reply, problem = None, e
                latency = time.perf_counter() - t0
            if reply is None:
                assert problem is not None
                kind = "malformed" if isinstance(problem, MalformedResponse) else "http"
                self._log(
                    req, self._call_row(phash, call_params, req, kind, error=str(problem), latency_s=latency)
                )
                if kind == "http":
                    return fail(str(problem), "http")
                malformed += 1
                if malformed > cfg.max_retries:
                    return fail(f"malformed response {malformed} times: {problem}", "malformed")
                await asyncio.sleep(self._backoff(malformed))
                continue

            cost = call_cost(reply.prompt_tokens, reply.completion_tokens, cfg.price_in, cfg.price_out)
            if self.budget is not None:
                self.budget.charge(cost, cfg.model)
            where = reply.endpoint or self.shown_endpoint
            fresh: list[tuple[str, str, Completion]] = []  # cached with the call's log row, one commit
            # into the slots only once cached: an answer whose write failed is a failed call
            answered: list[tuple[int, Completion]] = []
            if ask > 1 and len(reply.choices) < ask:
                self.supports_n = False  # e.g. llama.cpp: ask for the rest one by one
            got = reply.choices[:ask]
            each_tokens = round(reply.completion_tokens / max(1, len(got)))
            n_length = n_empty = 0
            for j, (text, finish) in zip(missing, got):
                if finish == "length":
                    n_length += 1
                    lengths[j] += 1
                    # asked again once already, or another draw is the same draw: it does not fit
                    if lengths[j] > 1 or not self._resample_helps(req):
                        given_up.add(j)
                        self._gave_up(phash, req, j)
                elif text is None or not text.strip():
                    n_empty += 1
                else:
                    c = Completion(
                        text=text,
                        finish_reason=finish,
                        prompt_tokens=reply.prompt_tokens,
                        completion_tokens=each_tokens,
                        latency_s=latency,
                        cached=False,
                        model=reply.model or cfg.model,
                    )
                    fresh.append((sample_key(phash, req.index + j), where, c))
                    answered.append((j, c))
            row = self._call_row(
                phash,
                call_params,
                req,
                "ok",
                endpoint=reply.endpoint,
                response=reply.choices,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                latency_s=latency,
                cost_usd=cost,
            )
            if self.cache is not None:
                await self._record(fresh, row)
            else:
                self._uncached_call(req, row)
            for j, c in answered:
                slots[j] = c
            if n_empty or not got:
                malformed += 1
                if malformed > cfg.max_retries:
                    return fail(f"empty response {malformed} times", "malformed")
                await asyncio.sleep(self._backoff(malformed))

    async def _record(self, samples: list[tuple[str, str, Completion]], call: dict[str, Any]) -> None:
        """Cache a call's samples and log it. The calls that finish in the same turn of the event loop
        share one transaction (one commit each was a tenth of the layer's CPU against a fast server);
        a call goes on only once its samples are committed, and a write error reaches every call of
        the batch, as a direct write would."""
        self._pending.append((samples, call))
        if self._flushed is None:
            loop = asyncio.get_running_loop()
            self._flushed = loop.create_future()
            loop.call_soon(self._flush)
        await asyncio.shield(self._flushed)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        done, self._flushed = self._flushed, None
        assert done is not None and self.cache is not None
        try:
            self.cache.record_calls(batch)
        except Exception as e:
            done.set_exception(e)
            done.exception()  # retrieved here too: a batch whose callers were cancelled logs nothing
        else:
            done.set_result(None)

    def _log(self, req: Request, row: dict[str, Any]) -> None:
        """Write one row of the calls table (from :meth:`_call_row`) at once."""
        if row["status"] != "ok":
            log.debug("LLM call to %s failed (%s): %s", self.name, row["status"], row.get("error"))
        if self.cache is not None:
            self.cache.log_call(**row)
        else:
            self._uncached_call(req, row)

    def _uncached_call(self, req: Request, row: dict[str, Any]) -> None:
        """A call's row with no cache to hold it: dropped here; a Ray worker hands it to the driver,
        which owns the cache and its calls table."""

    def _call_row(
        self,
        phash: str,
        params: dict[str, Any],
        req: Request,
        status: str,
        *,
        endpoint: str = "",
        **call: Any,
    ) -> dict[str, Any]:
        """The fields of :meth:`Cache.log_call` for one call; ``call``: the rest of them (error, response,
        tokens, latency, cost), passed as they are."""
        return {
            "phash": phash,
            "model": self.config.model,
            "base_url": endpoint or self.shown_endpoint,
            "params": params,
            "messages": req.messages,
            "status": status,
            **call,
        }

    def _summarize(
        self, results: list[Result], n_cached: int, failures_path: str | Path | None, not_resent: int = 0
    ) -> None:
        failed = [(i, r) for i, r in enumerate(results) if not r.ok]
        kinds = Counter(r.error_kind for _, r in failed)
        self.last_summary = {
            "requests": len(results),
            "from_cache": n_cached,
            "called": len(results) - n_cached - not_resent,
            "not_resent": not_resent,
            "failed": len(failed),
            "failed_by_kind": dict(kinds),
            "spent_usd": None if self.budget is None else self.budget.run_usd,
        }
        if failed and failures_path is not None:
            from sample_forge.tables import append_jsonl

            append_jsonl(
                failures_path,
                [
                    {
                        "position": i,
                        "id": r.request.id,
                        "model": self.name,
                        "error_kind": r.error_kind,
                        "error": r.error,
                        "messages": r.request.messages,
                        "n": r.request.n,
                        "index": r.request.index,
                        "temperature": r.request.temperature,
                        "max_tokens": r.request.max_tokens,
                        "seed": r.request.seed,
                        "schema": r.request.schema is not None and self.supports_schema,
                        "completed": len(r.completions),
                        "time": time.time(),
                    }
                    for i, r in failed
                ],
            )
        line = f"LLM {self.name}: {len(results)} requests, {n_cached} from cache, {len(failed)} failed"
        if kinds:
            line += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) + ")"
        if failed and failures_path is not None:
            line += f"; failures in {failures_path}"
        if not_resent:
            line += f"; {not_resent_line(not_resent)}"
        self.last_summary["message"] = line
        if failed:
            log.warning(line)
        else:
            log.info(line)


def not_resent_line(n: int) -> str:
    """What the summaries say about requests answered from the failures table."""
    return (
        f"{n} request{'s' if n != 1 else ''} not re-sent: they ended at max_tokens with the same "
        "settings; --retry-failed to re-ask"
    )


def _validate(req: Request) -> None:
    if not isinstance(req.messages, list) or not req.messages:
        raise LLMError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    if req.n < 1 or req.max_tokens < 1 or req.index < 0:
        raise LLMError(f"bad request: n={req.n}, max_tokens={req.max_tokens}, index={req.index}")
