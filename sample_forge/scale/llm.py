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
from pathlib import Path
from typing import Any

from sample_forge.llm.base import Model, ProgressBar, Request, Result, _validate
from sample_forge.llm.budget import call_cost
from sample_forge.llm.cache import sample_key
from sample_forge.scale.ray_data import stream_ordered

__all__ = ["RayModel", "LLMWorker", "key_env"]


def key_env(model: Model) -> dict[str, str]:
    """The environment a worker needs to authenticate as the driver does (for ``connect(env_vars=)``)."""
    name = model.config.api_key_env
    return {name: os.environ[name]} if name and name in os.environ else {}


class LLMWorker:
    """One per Ray worker: the model rebuilt from its config, without cache or budget (the driver's)."""

    def __init__(self, config: Any) -> None:
        if config.backend == "local":
            from sample_forge.llm.local_backend import LocalModel

            self.model: Model = LocalModel(config)
        else:
            from sample_forge.llm.openai_backend import OpenAIModel

            self.model = OpenAIModel(config)

    def __call__(self, requests: list[Request]) -> list[tuple[list[Any], str | None, str | None]]:
        return [(r.completions, r.error, r.error_kind) for r in self.model.complete_many(requests)]


class RayModel:
    """``model``'s ``complete_many`` on the connected Ray cluster (see the module doc)."""

    def __init__(
        self, model: Model, *, workers: int | None = None, batch_size: int = 8, window: int | None = None
    ) -> None:
        self.model = model
        self.name = model.name
        self.config = model.config
        self.workers = workers
        self.batch_size = batch_size
        self.window = window
        self.last_summary: dict[str, Any] = {}

    def __enter__(self) -> RayModel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.model.close()

    def complete_many(
        self,
        requests: Sequence[Request],
        *,
        progress: ProgressBar | None = None,
        failures_path: str | Path | None = None,
    ) -> list[Result]:
        import ray

        m = self.model
        for r in requests:
            _validate(r)
        results: list[Result | None] = [None] * len(requests)
        jobs: list[tuple[str, Request]] = []
        members: dict[tuple[str, int, int], list[int]] = {}
        for i, req in enumerate(requests):
            phash, slots = m._lookup(req)
            if all(c is not None for c in slots):
                results[i] = Result(req, slots)  # type: ignore[arg-type]
                continue
            key = (phash, req.index, req.n)
            if key not in members:  # the same samples asked twice in one run are paid once
                members[key] = []
                jobs.append((phash, req))
            members[key].append(i)
        n_cached = sum(r is not None for r in results)
        workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        workers = max(1, min(workers, -(-len(jobs) // self.batch_size)))
        window = self.window or workers * self.batch_size * 4
        budget = m.budget
        stream = stream_ordered(
            [req for _, req in jobs],
            LLMWorker,
            batch_size=self.batch_size,
            concurrency=workers,
            init_kwargs={"config": m.config},
            num_cpus=0.5,  # a worker mostly waits on the endpoint
            window=window,
            before_window=(lambda: not budget.exhausted) if budget is not None else None,
        )
        if progress is not None:
            stream = progress(stream, total=len(jobs), description=f"LLM {self.name} (ray)")
        cfg = m.config
        for pos, (completions, error, kind) in stream:
            phash, req = jobs[pos]
            for j, c in enumerate(completions):
                if m.cache is not None:
                    m.cache.put(sample_key(phash, req.index + j), m.shown_endpoint, c)
                if budget is not None:
                    budget.charge(
                        call_cost(c.prompt_tokens, c.completion_tokens, cfg.price_in, cfg.price_out),
                        cfg.model,
                    )
            for i in members[(phash, req.index, req.n)]:
                results[i] = Result(requests[i], list(completions), error, kind)
        for i, r in enumerate(results):
            if r is None:  # never dispatched: the budget stopped the run first
                msg = budget.message() if budget is not None else "not run"
                results[i] = Result(requests[i], [], msg, "budget")
        out: list[Result] = results  # type: ignore[assignment]
        m._summarize(out, n_cached, failures_path)
        self.last_summary = m.last_summary
        return out
