"""Items -> Ray Data ``map_batches`` -> results in input order: the one layer every ``--ray`` stage uses.

``connect(address)`` joins a running cluster (an address, or ``auto``) or starts a local one (``None``);
``map_ordered(items, fn)`` runs ``fn`` over batches of ``items`` on the cluster and returns one result
per item, in input order; ``stream_ordered`` yields ``(position, result)`` as batches finish, so the
driver can write each answer to its cache as it arrives, and can stop between windows (a budget).

``fn`` is a function ``list[item] -> list[result]`` (run as Ray tasks) or a class whose instances are
such callables (run in an actor pool: ``__init__`` loads a model once per worker). Items and results
travel pickled, one row each, with their position carried beside them: nothing depends on the order in
which Ray finishes batches. What a worker needs from the driver's environment (where sample-forge keeps
its caches, the embedder backend, an API key) goes in the job's ``runtime_env``, never in task arguments.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sample_forge.errors import SampleForgeError

__all__ = ["RAY_MISSING", "require_ray", "connect", "map_ordered", "stream_ordered", "ray_option"]

RAY_MISSING = "--ray needs Ray, which is not installed: pip install 'sample-forge[ray]'"

# the driver's settings a worker must share to compute the same thing (caches, backends, offline hubs)
FORWARDED_ENV = (
    "SAMPLE_FORGE_HOME",
    "SAMPLE_FORGE_CACHE_DB",
    "SAMPLE_FORGE_EMBED_BACKEND",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "TOKENIZERS_PARALLELISM",
)


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a SampleForgeError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise SampleForgeError(RAY_MISSING) from None
    return ray


def cluster_cpus() -> int:
    """The connected cluster's CPUs (at least 1): the default number of workers of a stage."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


_JOB_ENV: dict[str, str] | None = None  # what this process's Ray job was started with (None: not by us)
_JOB_REMOTE = False  # whether connect() joined a cluster rather than starting a local one


def connect(
    address: str | None = None, *, num_cpus: int | None = None, env_vars: dict[str, str] | None = None
) -> Any:
    """Join the cluster at ``address`` (``auto``: the one ``ray start`` runs on this node) or, with None
    or ``local``, start a local one with ``num_cpus``. ``env_vars`` (e.g. an API key) reach every worker through the
    job's runtime_env. A process that already called ``ray.init`` keeps its cluster and environment."""
    global _JOB_ENV, _JOB_REMOTE
    ray = require_ray()
    if ray.is_initialized():
        # a job's environment is fixed at ray.init; a local cluster's workers inherit this process's
        # environment anyway, a remote one's would call without a key that came later
        job_env = _JOB_ENV if _JOB_REMOTE and _JOB_ENV is not None else None
        lacking = (
            [] if job_env is None else sorted(k for k, v in (env_vars or {}).items() if job_env.get(k) != v)
        )
        if lacking:
            raise SampleForgeError(
                f"Ray is already connected without {', '.join(lacking)} in its job environment; "
                "connect once with every stage's key (forge does) or run the stage in its own process"
            )
        return ray
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    env.update(env_vars or {})
    _JOB_ENV, _JOB_REMOTE = dict(env), address not in (None, "", "local")
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False}
    try:
        if address in (None, "", "local"):
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise SampleForgeError(f"--ray {address or 'local'}: cannot connect to a Ray cluster ({e})") from None
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    return ray


def ray_option(fn: Any) -> Any:
    """The ``--ray [ADDRESS]`` option of a stage: ``--ray`` alone starts a local cluster, ``--ray auto``
    joins the one on this node, ``--ray ray://host:10001`` a remote one."""
    import click

    return click.option(
        "--ray",
        "ray_address",
        is_flag=False,
        flag_value="local",
        default=None,
        metavar="[ADDRESS]",
        help="Run the heavy part on a Ray cluster: alone a local one, 'auto' the one of this node, "
        "or an address (needs the extra: pip install 'sample-forge[ray]').",
    )(fn)


def _decode(col: Any) -> list[Any]:
    return [pickle.loads(x) for x in col]


def _batch_fn(fn: Callable[[list[Any]], Sequence[Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def run(batch: dict[str, Any]) -> dict[str, Any]:
        out = list(fn(_decode(batch["x"])))
        if len(out) != len(batch["i"]):
            raise SampleForgeError(f"a batch of {len(batch['i'])} items gave {len(out)} results")
        return {"i": batch["i"], "y": [pickle.dumps(r, protocol=5) for r in out]}

    return run


def _batch_class(cls: type) -> type:
    class Batched:
        def __init__(self, **kwargs: Any) -> None:
            self.run = _batch_fn(cls(**kwargs))

        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            return self.run(batch)

    Batched.__name__ = Batched.__qualname__ = cls.__name__
    return Batched


def stream_ordered(
    items: Sequence[Any],
    fn: Callable[[list[Any]], Sequence[Any]] | type,
    *,
    batch_size: int = 32,
    concurrency: int | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    init_kwargs: dict[str, Any] | None = None,
    window: int | None = None,
    before_window: Callable[[], bool] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(position, fn's result for items[position])`` as batches come back (any order).
    ``fn``: a batch function (Ray tasks) or a class (an actor pool of ``concurrency`` actors, each
    built once with ``init_kwargs``). With ``window``, items go to the cluster ``window`` at a time and
    ``before_window()`` is asked first: False stops there (the rest is never sent)."""
    ray = require_ray()
    if not ray.is_initialized():
        connect()
    step = window or max(1, len(items))
    for start in range(0, len(items), step):
        if before_window is not None and not before_window():
            return
        part = items[start : start + step]
        ds = ray.data.from_items(
            [{"i": start + k, "x": pickle.dumps(x, protocol=5)} for k, x in enumerate(part)],
            override_num_blocks=max(1, min(len(part), -(-len(part) // batch_size))),
        )
        remote: dict[str, Any] = {"num_cpus": num_cpus}
        if num_gpus:
            remote["num_gpus"] = num_gpus
        if isinstance(fn, type):
            ds = ds.map_batches(
                _batch_class(fn),
                batch_size=batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=concurrency or 1),
                fn_constructor_kwargs=init_kwargs or {},
                **remote,
            )
        else:
            if concurrency:
                remote["compute"] = ray.data.TaskPoolStrategy(size=concurrency)
            ds = ds.map_batches(_batch_fn(fn), batch_size=batch_size, batch_format="numpy", **remote)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for i, y in zip(batch["i"], batch["y"]):
                yield int(i), pickle.loads(y)


def map_ordered(
    items: Sequence[Any], fn: Callable[[list[Any]], Sequence[Any]] | type, **kwargs: Any
) -> list[Any]:
    """One result per item, in input order (see :func:`stream_ordered` for the options)."""
    out: list[Any] = [None] * len(items)
    seen = [False] * len(items)
    for i, y in stream_ordered(items, fn, **kwargs):
        out[i], seen[i] = y, True
    if not all(seen):
        raise SampleForgeError(f"Ray returned {sum(seen)} of {len(items)} results")
    return out


def chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    return (seq[i : i + size] for i in range(0, len(seq), size))
