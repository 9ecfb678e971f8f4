"""Answer checking on a Ray cluster: :class:`RayAnswerChecker` has :class:`~sample_forge.answers.
AnswerChecker`'s API and gives its verdicts. Each Ray actor holds one AnswerChecker, so math-verify runs
in that checker's own child process with the same hard per-item timeout (never in a thread): a hung item
is killed and gets ``timeout``, the rest of its batch goes on."""

from __future__ import annotations

from collections.abc import Sequence

from sample_forge.answers import AnswerChecker, Verdict
from sample_forge.scale.ray_data import cluster_cpus, map_ordered

__all__ = ["RayAnswerChecker", "CheckWorker"]


class CheckWorker:
    def __init__(self, timeout: float) -> None:
        self.checker = AnswerChecker(timeout=timeout, workers=1)

    def __call__(self, items: list[tuple[str, str, str]]) -> list[tuple[bool | None, str]]:
        verify = [(a, b) for op, a, b in items if op == "verify"]
        parse = [a for op, a, _ in items if op == "parse"]
        v = iter(self.checker.verdicts(verify))
        p = iter(self.checker.can_parse_many(parse))
        out: list[tuple[bool | None, str]] = []
        for op, _, _ in items:
            if op == "verify":
                got = next(v)
                out.append((got.equivalent, got.reason))
            else:
                ok = next(p)
                out.append((ok, "parses" if ok else "unparseable"))
        return out


class RayAnswerChecker:
    """``RayAnswerChecker(timeout=5).check_many([(gold, pred), ...])`` on the connected cluster (a local
    one is started when none is): ``workers`` actors (default: the cluster's CPUs), batches of
    ``batch_size`` items; results in input order."""

    def __init__(self, timeout: float = 5.0, workers: int | None = None, batch_size: int = 64) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.timeout = float(timeout)
        self.workers = workers
        self.batch_size = batch_size
        self.timeouts = 0  # items killed by the hard timeout, over the checker's life (AnswerChecker's)

    def __enter__(self) -> RayAnswerChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        return None  # the actors end with their Ray Data job

    def _run(self, items: list[tuple[str, str, str]]) -> list[tuple[bool | None, str]]:
        if not items:
            return []
        from sample_forge.scale.ray_data import connect

        connect()
        n = self.workers or cluster_cpus()
        n = min(n, -(-len(items) // self.batch_size))
        return map_ordered(
            items,
            CheckWorker,
            batch_size=self.batch_size,
            concurrency=n,
            init_kwargs={"timeout": self.timeout},
        )

    def verdicts(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        out = [Verdict(*v) for v in self._run([("verify", str(g), str(p)) for g, p in pairs])]
        self.timeouts += sum(v.reason == "timeout" for v in out)
        return out

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[bool | None]:
        return [v.equivalent for v in self.verdicts(pairs)]

    def check(self, gold: str, pred: str) -> bool | None:
        return self.check_many([(gold, pred)])[0]

    def can_parse_many(self, answers: Sequence[str]) -> list[bool | None]:
        return [v[0] for v in self._run([("parse", str(a), "") for a in answers])]

    def __repr__(self) -> str:
        return f"RayAnswerChecker(timeout={self.timeout}, workers={self.workers})"
