"""LLM calls fanned out from Ray workers, with the cache, the budget and the key kept by the driver.

:class:`RayModel` wraps a :class:`~sample_forge.llm.Model` and has its ``complete_many``, so a stage
(the LLM tagger, synthesize's solvers) runs on a cluster by being handed ``RayModel(model)``:

* requests already in the driver's SQLite cache are answered there and never sent to the cluster;
* the rest go to Ray workers, each holding one uncached client of the same model config; every
  answer is written to the cache by the driver as its batch streams back, so a job killed halfway and
  started again pays only for what had not come back;
* the budget is the driver's: it is checked before each window of batches is dispatched, and charged
  for what comes back (a cluster overshoots by at most one window of calls);
* the API key reaches workers through the job's runtime_env (``connect(env_vars=...)``); the task
  arguments hold the model config, which names the key's variable, never the key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sample_forge.llm.base import Model, ProgressBar, Request, Result, fill_members
from sample_forge.llm.cache import sample_key
from sample_forge.scale.ray_data import cluster_cpus, stream_ordered

__all__ = ["RayModel", "LLMWorker", "key_env", "ray_models"]


def key_env(config: Any) -> dict[str, str]:
    """The environment a worker needs to authenticate as the driver does (for ``connect(env_vars=)``),
    from a model's config."""
    name = config.api_key_env
    return {name: os.environ[name]} if name and name in os.environ else {}


def ray_models(address: str | None, models: dict[str, Model]) -> dict[str, RayModel]:
    """Connect to the cluster at ``address`` (``local``/None: start one) with every model's key in
    the job's environment, and wrap each model: name -> RayModel."""
    from sample_forge.scale.ray_data import connect

    env: dict[str, str] = {}
    for m in models.values():
        env.update(key_env(m.config))
    connect(address, env_vars=env)
    return {name: RayModel(m) for name, m in models.items()}


class LLMWorker:
    """One per Ray worker: the model rebuilt from its config, without cache or budget (the driver's).
    It gets (request, slots) jobs whose cached samples are filled in already, asks for the rest (over
    the model's replicas), and returns the slots by position, the samples that did not fit
    ``max_tokens`` (for the driver's failures table) and the structured-output mode it ended in."""

    def __init__(self, config: Any, structured_mode: str | None = None) -> None:
        if config.backend == "local":
            from sample_forge.llm.local_backend import LocalModel

            self.model: Model = LocalModel(config)
        else:
            from sample_forge.llm.openai_backend import OpenAIModel

            self.model = OpenAIModel(config)
        if structured_mode is not None:  # the driver's mode: its cache keys were made with it
            self.model.structured_mode = structured_mode
        # what the driver writes to its cache, per request of the current batch (id of the Request)
        self.gave_up: dict[int, list[int]] = {}
        self.calls: dict[int, list[dict[str, Any]]] = {}
        model = self.model

        def gave_up(phash: str, req: Request, j: int) -> None:
            self.gave_up.setdefault(id(req), []).append(j)

        def uncached_call(req: Request, row: dict[str, Any]) -> None:
            self.calls.setdefault(id(req), []).append(row)

        model._gave_up = gave_up  # type: ignore[method-assign]
        model._uncached_call = uncached_call  # type: ignore[method-assign]

    def __call__(self, jobs: list[tuple[Request, list[Any]]]) -> list[tuple[Any, ...]]:
        m = self.model
        self.gave_up.clear()
        self.calls.clear()
        futures = [m._submit(m._arun(req, "", slots)) for req, slots in jobs]
        out = []
        for (req, slots), fut in zip(jobs, futures):
            res = fut.result()
            got = (slots, res.error, res.error_kind, self.gave_up.get(id(req), []), m.structured_mode)
            out.append((*got, self.calls.get(id(req), [])))
        return out


class RayModel:
    """``model``'s ``complete_many`` on the connected Ray cluster (see the module doc). The same cache
    keys, the same merging of overlapping requests, the same failures table and ``retry_failed`` as
    :meth:`Model.complete_many`, so a run's cache serves the other path."""

    def __init__(
        self, model: Model, *, workers: int | None = None, batch_size: int = 8, window: int | None = None
    ) -> None:
        self.model = model
        self.name = model.name
        self.config = model.config
        self.workers = workers
        self.batch_size = batch_size
        self.window = window

    def __getattr__(self, name: str) -> Any:
        # everything but complete_many is the wrapped model's (budget, retry_failed, supports_schema, ...)
        if name == "model":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.model, name)

    def __enter__(self) -> RayModel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.model.close()

    # Model's steps (cache, merging, summary) with Ray's _dispatch: one path, so a run's cache serves the other
    complete_many = Model.complete_many

    def _dispatch(
        self,
        jobs: list[tuple[str, Any]],
        results: list[Result | None],
        requests: Sequence[Request],
        progress: ProgressBar | None,
    ) -> None:
        m = self.model
        workers = self.workers or cluster_cpus()
        workers = max(1, min(workers, -(-len(jobs) // self.batch_size)))
        window = self.window or workers * self.batch_size * 4
        budget = m.budget
        stream = stream_ordered(
            [(job.request, job.slots) for _, job in jobs],
            LLMWorker,
            batch_size=self.batch_size,
            concurrency=workers,
            init_kwargs={"config": m.config, "structured_mode": m.structured_mode},
            num_cpus=0.5,  # a worker mostly waits on the endpoint
            window=window,
            before_window=(lambda: not budget.exhausted) if budget is not None else None,
        )
        if progress is not None:
            stream = progress(stream, total=len(jobs), description=f"LLM {self.name} (ray)")
        cfg = m.config
        for pos, (slots, error, kind, gave_up, mode, calls) in stream:
            phash, job = jobs[pos]
            req = job.request
            fresh = []
            for j, c in enumerate(slots):
                if c is None or job.slots[j] is not None:  # missing, or the driver's cached sample
                    continue
                job.slots[j] = c
                fresh.append((sample_key(phash, req.index + j), m.shown_endpoint, c))
            if m.cache is not None:  # the job's samples and its calls rows (driver's hash): one commit
                rows = [{**row, "phash": phash} for row in calls]
                m.cache.record_calls([(fresh, None), *(([], row) for row in rows)])
            if budget is not None:  # what each call cost, as one process charges it (cut samples too)
                for row in calls:
                    budget.charge(row.get("cost_usd") or 0.0, cfg.model)
            for j in gave_up:
                m._gave_up(phash, req, j)
            m.structured_mode = mode  # a worker that stepped down: the next keys follow it
            fill_members(results, requests, job, error, kind)
        for i, r in enumerate(results):
            if r is None:  # never dispatched: the budget stopped the run first
                msg = budget.message() if budget is not None else "not run"
                mine = [c for c in m._lookup(requests[i])[1] if c is not None]
                results[i] = Result(requests[i], mine, msg, "budget")
