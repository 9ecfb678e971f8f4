"""MiniLM embeddings and decontamination on a Ray cluster: the texts are embedded in an actor pool (the
models loaded once per worker), everything else (n-grams, cosines, flags) stays in the driver, so the
output is the single-process output row for row.

The int8 screen quantizes activations per batch of 8 texts, so its vectors depend on which texts share a
batch (float vectors do not). The single-process embedder sorts all texts by token count and cuts batches
of 8; here the driver sorts the same way and sends chunks of a multiple of 8 consecutive texts, so every
batch of 8 is the one the single process would have formed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sample_forge.scale.ray_data import cluster_cpus, map_ordered

__all__ = ["EmbedWorker", "embed_on_ray", "check_on_ray"]


class EmbedWorker:
    """One per Ray worker: the float MiniLM (on the worker's GPU when Ray gave it one) and the int8
    screen, loaded on first use."""

    def __init__(self) -> None:
        import ray

        self.gpu = bool(ray.get_gpu_ids())
        self._fp32: Any = None
        self._screen: Any = None

    def fp32(self) -> Any:
        if self._fp32 is None:
            from sample_forge.embed import Embedder, get_embedder

            if self.gpu:  # torch on the GPU: same model, vectors equal to the CPU's within float error
                self._fp32 = Embedder()
                self._fp32._st.to("cuda")
            else:
                self._fp32 = get_embedder()
        return self._fp32

    def screen(self) -> Any:
        if self._screen is None:
            from sample_forge.embed import get_screen_embedder

            self._screen = get_screen_embedder()
        return self._screen

    def __call__(self, jobs: list[tuple[str, list[str]]]) -> list[np.ndarray]:
        return [(self.screen() if kind == "screen" else self.fp32()).encode(texts) for kind, texts in jobs]


def _token_order(texts: Sequence[str]) -> np.ndarray:
    """The order in which the single-process ONNX embedder batches ``texts`` (longest first, stable)."""
    from sample_forge.embed import MAX_TOKENS, get_embedder

    tok = getattr(get_embedder(), "_tok", None)
    if tok is None:  # the torch backend: its vectors do not depend on the batching
        return np.arange(len(texts))
    ids = tok(list(texts), truncation=True, max_length=MAX_TOKENS, add_special_tokens=True)["input_ids"]
    return np.argsort([-len(x) for x in ids], kind="stable")


def embed_on_ray(
    texts: Sequence[str], kind: str = "fp32", *, workers: int | None = None, chunk: int = 256
) -> np.ndarray:
    """(len(texts), 384) vectors computed on the cluster; ``kind`` "fp32" (the float MiniLM) or "screen"
    (the int8 one), equal to what this process's embedder would return for the same list."""
    from sample_forge.embed import DIM

    if not len(texts):
        return np.zeros((0, DIM), np.float32)
    chunk = max(8, chunk - chunk % 8)
    order = _token_order(texts)
    jobs = [(kind, [texts[i] for i in order[s : s + chunk]]) for s in range(0, len(order), chunk)]
    n, gpus = _workers()
    # on a cluster with GPUs each embedding worker holds one (the float MiniLM runs there)
    parts = map_ordered(
        jobs, EmbedWorker, batch_size=1, concurrency=min(len(jobs), workers or n), num_gpus=1 if gpus else 0
    )
    out = np.empty((len(texts), DIM), np.float32)
    out[order] = np.concatenate(parts)
    return out


def _workers() -> tuple[int, int]:
    """(embedding workers, GPUs of the cluster): one worker per GPU where there are GPUs, else per CPU."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    return (gpus or cluster_cpus()), gpus


def check_on_ray(
    index: Any, texts: Sequence[str], *, workers: int | None = None, chunk: int = 256
) -> list[Any]:
    """``index.check(texts)`` (a :class:`~sample_forge.synth.decontam.DecontamIndex`) with the
    embeddings computed on the cluster; the same Matches, in the same order."""
    from sample_forge.embed import SCREEN_MIN_COSINE, get_screen_embedder
    from sample_forge.synth.decontam import first_words

    cfg = index.config
    if not cfg.use_embeddings or not texts:
        return index.check(texts)
    words = first_words(texts, cfg.max_words)
    use = cfg.screen and cfg.cosine_threshold - cfg.screen_margin >= SCREEN_MIN_COSINE
    if not use or get_screen_embedder() is None:
        return index.check(texts, embeddings=embed_on_ray(words, "fp32", workers=workers, chunk=chunk))
    # the screen as DecontamIndex.embedding_scores runs it: int8 first, float again near the threshold
    settled = [best >= cfg.ngram_threshold for best, _ in index.ngram_scores(texts)]
    emb = embed_on_ray(words, "screen", workers=workers, chunk=chunk)
    near = np.zeros(len(texts), dtype=bool)
    for b, (best, _) in enumerate(index._cosines(emb, 2048)):
        near |= (np.abs(best - cfg.cosine_threshold) < cfg.screen_margin) & ~settled[b]
    redo = np.flatnonzero(near)
    index.screened += len(words)
    index.rescreened += len(redo)
    if len(redo):
        emb[redo] = embed_on_ray([words[i] for i in redo], "fp32", workers=workers, chunk=chunk)
    return index.check(texts, embeddings=emb)
