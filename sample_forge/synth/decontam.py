"""Decontamination: is a problem (nearly) a benchmark problem?

Two signals, one flag per benchmark (open-r1 style):

* **word n-grams**: texts are normalized (lower case, LaTeX commands and punctuation dropped, numbers kept)
  and cut into word n-grams (``n`` from 8 to 13; open-r1 uses 8, GPT-3 used 13). The overlap of a candidate
  with a benchmark item is ``shared / min(grams(candidate), grams(item))``, so a copy embedded in a longer
  text counts as well as a copy with a few words changed. n-grams found in more than ``max_df`` items of a
  benchmark are boilerplate ("which of the following is ...") and are not evidence.
* **embeddings**: cosine similarity of the packaged MiniLM embeddings (``sample_forge.embed``); catches
  paraphrases that share no long n-gram. Benchmark embeddings are cached on disk under
  ``paths.cache_dir()/decontam``, keyed by a hash of the texts, so a second run only embeds the candidates.

A candidate is flagged for a benchmark when either signal passes its threshold.

Benchmarks are registered by file (JSONL/Parquet/CSV/JSON), by Hugging Face id (``hf:ORG/NAME[:CONFIG][@SPLIT]``), by a
built-in name (``aime24``, ``math500``, ...; resolved under a data root such as ``../shared/data``), or in a
TOML config::

    root = "/data/shared"             # where built-in names are looked up
    [benchmarks.my_test]
    path = "my_test.jsonl"            # or hf = "HuggingFaceH4/MATH-500", split = "test" (config = ...)
    field = "problem"                 # optional: auto-detected otherwise
"""

from __future__ import annotations

import hashlib
import os
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge.errors import InputError, SampleForgeError
from sample_forge.hub import HubSource, is_hub, parse_hub

__all__ = [
    "DecontamConfig",
    "Benchmark",
    "BenchmarkSpec",
    "BUILTIN_BENCHMARKS",
    "DecontamIndex",
    "Match",
    "normalize_words",
    "resolve_benchmarks",
    "load_benchmark",
]

# built-in name -> path relative to a data root (the layout of ../shared/data); tried also relative to
# <root>/eval_benchmarks and <root>/math so either folder can be given as the root.
BUILTIN_BENCHMARKS: dict[str, str] = {
    "math500": "math/math500.jsonl",
    "aime24": "eval_benchmarks/math_competition/aime24.jsonl",
    "aime25": "eval_benchmarks/math_competition/aime25.jsonl",
    "amc23": "eval_benchmarks/math_competition/amc23.jsonl",
    "minerva_math": "eval_benchmarks/math_competition/minerva_math.jsonl",
    "mmlu_pro": "eval_benchmarks/mmlu_pro/test.jsonl",
    "scibench_physics": "eval_benchmarks/scibench/scibench_physics.jsonl",
    "scibench_chemistry": "eval_benchmarks/scibench/scibench_chemistry.jsonl",
    "scibench_math": "eval_benchmarks/scibench/scibench_math.jsonl",
    "supergpqa_physics": "eval_benchmarks/supergpqa_subsets/supergpqa_physics.jsonl",
    "supergpqa_chemistry": "eval_benchmarks/supergpqa_subsets/supergpqa_chemistry.jsonl",
    "supergpqa_biology": "eval_benchmarks/supergpqa_subsets/supergpqa_biology.jsonl",
    "supergpqa_medicine": "eval_benchmarks/supergpqa_subsets/supergpqa_medicine.jsonl",
}
# GPQA-Diamond ships in a password-protected zip (its authors ask it not be stored in plain text):
# register a decrypted copy by path yourself if you need it.


_LATEX_CMD = re.compile(r"\\[a-zA-Z]+")
_WORD = re.compile(r"[a-z0-9]+")


def normalize_words(text: str) -> list[str]:
    """Lower-case alphanumeric words; LaTeX commands (``\\frac``, ``\\mathrm``) are markup, not words."""
    return _WORD.findall(_LATEX_CMD.sub(" ", text or "").lower())


@dataclass(frozen=True)
class DecontamConfig:
    """Thresholds of the two signals. ``ngram`` in 8..13; ``ngram_threshold``: share of the shorter text's
    n-grams found in one benchmark item; ``cosine_threshold``: MiniLM cosine; ``max_words``: words of a
    text that are embedded (keeps embedding fast; problems are rarely longer). ``screen``: embed queries
    with the int8 MiniLM first and re-embed with the float model every text whose cosine with some
    benchmark is within ``screen_margin`` of the threshold (benchmarks its n-grams already flag aside), so
    flags are the float model's; the other cosines are the int8 model's (within 0.045 of the float
    model's). Used only when ``cosine_threshold - screen_margin`` >= 0.5, the range where that error
    bound was measured; lower thresholds embed everything with the float model."""

    ngram: int = 8
    ngram_threshold: float = 0.5
    max_df: int = 50
    use_embeddings: bool = True
    cosine_threshold: float = 0.83
    max_words: int = 96
    screen: bool = True
    screen_margin: float = 0.06

    def __post_init__(self) -> None:
        if not 8 <= self.ngram <= 13:
            raise SampleForgeError(f"ngram must be between 8 and 13, got {self.ngram}")
        if not 0 < self.ngram_threshold <= 1:
            raise SampleForgeError(f"ngram_threshold must be in (0, 1], got {self.ngram_threshold}")
        if not -1 <= self.cosine_threshold <= 1:
            raise SampleForgeError(f"cosine_threshold must be in [-1, 1], got {self.cosine_threshold}")
        from sample_forge.embed import SCREEN_MAX_ERROR

        if self.screen and not SCREEN_MAX_ERROR < self.screen_margin <= 2:
            raise SampleForgeError(
                f"screen_margin must exceed the int8 screen's cosine error {SCREEN_MAX_ERROR} "
                f"(or turn the screen off), got {self.screen_margin}"
            )


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a benchmark's texts come from: a file ``path`` or a Hugging Face ``hf`` id (with its
    ``config`` and ``split``)."""

    name: str
    path: str | None = None
    hf: str | None = None
    split: str = "test"
    field: str | None = None
    config: str | None = None


@dataclass
class Benchmark:
    name: str
    texts: list[str]
    ids: list[str]
    source: str = ""


@dataclass
class Match:
    """The verdict for one candidate and one benchmark."""

    benchmark: str
    flagged: bool
    ngram_overlap: float = 0.0
    ngram_item: int | None = None
    cosine: float | None = None
    cosine_item: int | None = None
    closest_id: str | None = None
    closest_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---------------------------------------------------------------------------------------------
# benchmark registry


def problem_texts(
    rows: Sequence[dict[str, Any]], source: str, field: str | None = None, *, need_text: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows through the one table adapter and their problem texts (``field`` names the text column,
    else the adapter's aliases; chat prompts give their user turn). A text that is not a string, or
    (``need_text``) an empty one, is an InputError naming file, line and field."""
    from sample_forge.adapter import ALIASES, adapt_row, column_of, has

    mapping = {"problem": field} if field else None
    found = (
        (lambda r: has(r, field))
        if field
        else (lambda r: column_of(r, "problem") is not None or "problem" in r)
    )
    if rows and not found(rows[0]):
        tried = [field] if field else list(ALIASES["problem"])
        raise InputError(
            f"no problem text column (tried {', '.join(tried)})", path=source, line=1, field=field
        )
    adapted, texts = [], []
    for i, r in enumerate(rows, start=1):
        a = adapt_row(r, mapping, path=source, line=i, scores=False)
        t = a.get("problem")
        col = column_of(r, "problem", mapping) or field or "problem"
        if not isinstance(t, str):
            raise InputError("problem text is not a string", path=source, line=i, field=col)
        if need_text and not t.strip():
            raise InputError("missing or empty problem text", path=source, line=i, field=col)
        adapted.append(a)
        texts.append(t)
    return adapted, texts


def _load_rows(spec: BenchmarkSpec) -> tuple[list[dict[str, Any]], str]:
    if spec.hf:
        label = HubSource(spec.hf, spec.config, spec.split).label()
        try:
            import datasets

            ds = datasets.load_dataset(spec.hf, spec.config, split=spec.split)
        except Exception as e:  # hub/network/format errors of many kinds
            raise SampleForgeError(f"benchmark '{spec.name}': cannot load {label} ({e})") from None
        return [dict(r) for r in ds], label
    from sample_forge.tables import read_rows

    assert spec.path is not None
    return read_rows(spec.path), spec.path


def load_benchmark(spec: BenchmarkSpec) -> Benchmark:
    """Read one benchmark's problem texts (field auto-detected unless given)."""
    rows, source = _load_rows(spec)
    if not rows:
        raise InputError(f"benchmark '{spec.name}' is empty", path=source)
    adapted, texts = problem_texts(rows, source, spec.field)
    ids = [str(r["id"]) if r.get("id") is not None else str(i) for i, r in enumerate(adapted)]
    return Benchmark(spec.name, texts, ids, source)


def _default_root() -> Path | None:
    env = os.environ.get("SAMPLE_FORGE_BENCH_ROOT")
    return Path(env) if env else None


def _builtin_path(name: str, roots: Sequence[Path]) -> Path | None:
    rel = BUILTIN_BENCHMARKS[name]
    for root in roots:
        for cand in (root / rel, root / rel.split("/", 1)[1], root.parent / rel):
            if cand.is_file():
                return cand
    return None


def resolve_benchmarks(
    names: Iterable[str],
    *,
    root: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
) -> list[BenchmarkSpec]:
    """Turn ``--against`` values into specs. Each value is a built-in name, ``all`` (every built-in found
    under the root), a name from the TOML ``config``, a file path, or ``hf:ORG/NAME[:CONFIG][@SPLIT]`` (split: test unless given; the older
    ``hf:ORG/NAME:SPLIT`` still works, with a deprecation line)."""
    registry: dict[str, BenchmarkSpec] = {}
    roots: list[Path] = []
    if config is not None:
        cfg_path = Path(config)
        try:
            cfg = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InputError(f"cannot read benchmark config ({e})", path=str(cfg_path)) from None
        if "root" in cfg:
            roots.append((cfg_path.parent / cfg["root"]).resolve())
        for name, entry in (cfg.get("benchmarks") or {}).items():
            if not isinstance(entry, dict) or not (entry.get("path") or entry.get("hf")):
                raise InputError("needs 'path' or 'hf'", path=str(cfg_path), field=f"benchmarks.{name}")
            p = entry.get("path")
            registry[name] = BenchmarkSpec(
                name,
                path=str((cfg_path.parent / p).resolve()) if p else None,
                hf=entry.get("hf"),
                split=entry.get("split", "test"),
                field=entry.get("field"),
                config=entry.get("config"),
            )
    if root is not None:
        roots.insert(0, Path(root))
    if (r := _default_root()) is not None:
        roots.append(r)

    out: list[BenchmarkSpec] = []
    for value in names:
        for v in [x.strip() for x in str(value).split(",") if x.strip()]:
            if v in registry:
                out.append(registry[v])
            elif v == "all":
                found = [n for n in BUILTIN_BENCHMARKS if _builtin_path(n, roots)]
                if not found:
                    raise SampleForgeError(
                        "--against all: no built-in benchmark found; give --bench-root "
                        "(e.g. ../shared/data) or set SAMPLE_FORGE_BENCH_ROOT"
                    )
                out += [BenchmarkSpec(n, path=str(_builtin_path(n, roots))) for n in found]
            elif v in BUILTIN_BENCHMARKS:
                p = _builtin_path(v, roots)
                if p is None:
                    raise SampleForgeError(
                        f"built-in benchmark '{v}' ({BUILTIN_BENCHMARKS[v]}) not found; give "
                        "--bench-root (e.g. ../shared/data) or set SAMPLE_FORGE_BENCH_ROOT"
                    )
                out.append(BenchmarkSpec(v, path=str(p)))
            elif is_hub(v):
                src = parse_hub(v, legacy_split=True)
                name = f"{src.name}_{src.config}" if src.config else src.name
                out.append(BenchmarkSpec(name, hf=src.dataset, split=src.split or "test", config=src.config))
            elif Path(v).is_file():
                out.append(BenchmarkSpec(Path(v).stem, path=v))
            else:
                import difflib

                known = sorted(set(BUILTIN_BENCHMARKS) | set(registry))
                close = difflib.get_close_matches(v, known, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
                raise SampleForgeError(
                    f"unknown benchmark '{v}' (not a file, hf:id or registered name){hint}"
                )
    seen: set[str] = set()
    for s in out:  # one flag column per benchmark: names must be unique
        if s.name in seen:
            raise SampleForgeError(f"benchmark name '{s.name}' given twice")
        seen.add(s.name)
    return out


# ---------------------------------------------------------------------------------------------
# the index

_MULT = np.random.default_rng(20260125).integers(1, 2**63 - 1, size=13, dtype=np.int64).astype(np.uint64) | 1


class _Vocab:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, words: list[str], grow: bool) -> list[int]:
        ids = self.ids
        if grow:
            return [ids.setdefault(w, len(ids) + 1) for w in words]
        return [ids.get(w, 0) for w in words]  # 0: unseen word, cannot match


def _gram_hashes(docs: list[list[int]], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All n-gram hashes of all docs at once: (hashes, doc index, grams per doc). Windows containing an
    unseen word (id 0) are dropped from the hashes but still counted in the per-doc totals."""
    lens = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    counts = np.maximum(lens - n + 1, 0)
    if counts.sum() == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), counts
    flat = np.fromiter((t for d in docs for t in d), dtype=np.int64, count=int(lens.sum()))
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    # window start positions of every doc
    doc_of = np.repeat(np.arange(len(docs)), counts)
    pos = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
    ids = flat.astype(np.uint64)
    h = np.zeros(len(pos), dtype=np.uint64)
    bad = np.zeros(len(pos), dtype=bool)
    with np.errstate(over="ignore"):
        for j in range(n):
            tok = ids[pos + j]
            bad |= tok == 0
            h = h * np.uint64(1099511628211) + tok * _MULT[j]
    return h[~bad], doc_of[~bad], counts


def first_words(texts: Sequence[str], max_words: int) -> list[str]:
    """What is embedded of each text: its first ``max_words`` whitespace-separated words."""
    return [" ".join(t.split()[:max_words]) for t in texts]


def _embed_texts(texts: Sequence[str], max_words: int) -> np.ndarray:
    from sample_forge.embed import embed

    return embed(first_words(texts, max_words))


_CHUNK = 2048  # texts per cache file: a killed cold build keeps every finished chunk


def _cache_file(texts: Sequence[str], max_words: int) -> Path:
    from sample_forge.paths import cache_dir

    h = hashlib.sha256(f"all-MiniLM-L6-v2|{max_words}|".encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    d = cache_dir() / "decontam"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{h.hexdigest()[:32]}.npy"


def _cached_chunk(texts: Sequence[str], max_words: int) -> tuple[np.ndarray, bool]:
    f = _cache_file(texts, max_words)
    if f.exists():
        try:
            arr = np.load(f)
            if arr.shape == (len(texts), 384):
                return arr, True
        except (OSError, ValueError):
            pass  # a torn cache file: recompute and overwrite
    arr = _embed_texts(texts, max_words)
    tmp = f.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, f)
    return arr, False


def cached_embeddings(texts: Sequence[str], max_words: int) -> tuple[np.ndarray, bool]:
    """Embeddings of ``texts`` from the on-disk cache (files keyed by a hash of each chunk of texts);
    the flag says whether all of them came from the cache."""
    if not texts:
        return np.zeros((0, 384), np.float32), True
    parts = [_cached_chunk(texts[i : i + _CHUNK], max_words) for i in range(0, len(texts), _CHUNK)]
    return np.concatenate([p[0] for p in parts]), all(p[1] for p in parts)


@dataclass
class _BenchIndex:
    bench: Benchmark
    hashes: np.ndarray  # sorted unique-per-item n-gram hashes
    items: np.ndarray  # item of each hash
    grams: np.ndarray  # distinct non-boilerplate n-grams per item
    stop: np.ndarray  # sorted boilerplate n-gram hashes (in more than max_df items)
    emb: np.ndarray | None = None


@dataclass
class DecontamIndex:
    """Benchmarks indexed for both signals. Build with :meth:`build`; query with :meth:`check`."""

    config: DecontamConfig
    benches: list[_BenchIndex] = field(default_factory=list)
    vocab: _Vocab = field(default_factory=_Vocab)
    embed_cache_hits: int = 0
    screened: int = 0  # queries embedded by the int8 screen
    rescreened: int = 0  # of those, re-embedded with the float model (near the threshold)

    @classmethod
    def build(cls, benchmarks: Sequence[Benchmark], config: DecontamConfig | None = None) -> DecontamIndex:
        idx = cls(config or DecontamConfig())
        for b in benchmarks:
            idx.add(b)
        return idx

    @property
    def names(self) -> list[str]:
        return [b.bench.name for b in self.benches]

    def add(self, bench: Benchmark) -> None:
        n = self.config.ngram
        docs = [self.vocab.encode(normalize_words(t), grow=True) for t in bench.texts]
        h, items, _ = _gram_hashes(docs, n)
        # count each n-gram once per item, then drop boilerplate n-grams shared by many items; both sides
        # of the overlap ratio are measured on the n-grams that remain
        key = (
            np.unique(np.stack([h, items.astype(np.uint64)], axis=1), axis=0)
            if len(h)
            else np.zeros((0, 2), np.uint64)
        )
        h, items = key[:, 0], key[:, 1].astype(np.int64)
        stop = np.zeros(0, np.uint64)
        if len(h):
            uniq, inv, df = np.unique(h, return_inverse=True, return_counts=True)
            keep = df[inv] <= self.config.max_df
            stop = uniq[df > self.config.max_df]
            h, items = h[keep], items[keep]
        grams = np.bincount(items, minlength=len(docs))
        order = np.argsort(h, kind="stable")
        bi = _BenchIndex(bench, h[order], items[order], grams, stop)
        if self.config.use_embeddings:
            bi.emb, hit = cached_embeddings(bench.texts, self.config.max_words)
            self.embed_cache_hits += int(hit)
        self.benches.append(bi)

    # -- queries ------------------------------------------------------------------------------

    def ngram_scores(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per benchmark: (best overlap per text, best item per text, -1 when none)."""
        n = self.config.ngram
        docs = [self.vocab.encode(normalize_words(t), grow=False) for t in texts]
        h, doc_of, windows = _gram_hashes(docs, n)
        # windows holding a word no benchmark has still count in the candidate's size
        unseen = windows - np.bincount(doc_of, minlength=len(texts))
        if len(h):  # one vote per distinct n-gram of a candidate
            key = np.unique(np.stack([h, doc_of.astype(np.uint64)], axis=1), axis=0)
            h, doc_of = key[:, 0], key[:, 1].astype(np.int64)
        out = []
        for bi in self.benches:
            best = np.zeros(len(texts))
            best_item = np.full(len(texts), -1, dtype=np.int64)
            boiler = np.isin(h, bi.stop) if len(bi.stop) else np.zeros(len(h), bool)
            cgrams = np.bincount(doc_of[~boiler], minlength=len(texts)) + unseen
            if len(h) and len(bi.hashes):
                lo = np.searchsorted(bi.hashes, h, side="left")
                hi = np.searchsorted(bi.hashes, h, side="right")
                cnt = hi - lo
                m = cnt > 0
                if m.any():
                    rep_doc = np.repeat(doc_of[m], cnt[m])
                    offs = np.repeat(lo[m] - np.concatenate([[0], np.cumsum(cnt[m])[:-1]]), cnt[m])
                    rep_item = bi.items[offs + np.arange(cnt[m].sum())]
                    pairs, shared = np.unique(rep_doc * (len(bi.grams) + 1) + rep_item, return_counts=True)
                    d, it = pairs // (len(bi.grams) + 1), pairs % (len(bi.grams) + 1)
                    denom = np.maximum(np.minimum(cgrams[d], bi.grams[it]), 1)
                    ov = shared / denom
                    order = np.lexsort((-ov, d))  # best overlap first within each candidate
                    first = np.unique(d[order], return_index=True)[1]
                    sel = order[first]
                    best[d[sel]] = ov[sel]
                    best_item[d[sel]] = it[sel]
            out.append((best, best_item))
        return out

    def embedding_scores(
        self,
        texts: Sequence[str],
        emb: np.ndarray | None = None,
        chunk: int = 2048,
        settled: Sequence[np.ndarray] | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per benchmark: (max cosine per text, argmax item per text). ``settled[b]``: texts already flagged
        for benchmark b by n-grams, whose cosine there cannot change the flag (the screen skips them)."""
        if emb is not None:
            return self._cosines(emb, chunk)
        from sample_forge.embed import SCREEN_MIN_COSINE, embed, get_screen_embedder

        cfg = self.config
        words = first_words(texts, cfg.max_words)
        use = cfg.screen and len(words) and cfg.cosine_threshold - cfg.screen_margin >= SCREEN_MIN_COSINE
        screen = get_screen_embedder() if use else None
        if screen is None:
            return self._cosines(embed(words), chunk)
        out = self._cosines(screen.encode(words), chunk)
        self.screened += len(words)
        near = np.zeros(len(texts), dtype=bool)
        for b, (best, _) in enumerate(out):
            close = np.abs(best - cfg.cosine_threshold) < cfg.screen_margin
            near |= close if settled is None else close & ~settled[b]
        redo = np.flatnonzero(near)
        self.rescreened += len(redo)
        if len(redo):
            exact = self._cosines(embed([words[i] for i in redo]), chunk)
            for (best, arg), (b2, a2) in zip(out, exact):
                best[redo], arg[redo] = b2, a2
        return out

    def _cosines(self, emb: np.ndarray, chunk: int) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for bi in self.benches:
            assert bi.emb is not None
            best = np.full(len(emb), -1.0, dtype=np.float32)
            arg = np.zeros(len(emb), dtype=np.int64)
            for s in range(0, len(emb), chunk):
                sims = emb[s : s + chunk] @ bi.emb.T
                if sims.shape[1]:
                    arg[s : s + chunk] = sims.argmax(axis=1)
                    best[s : s + chunk] = sims[np.arange(len(sims)), arg[s : s + chunk]]
            out.append((best, arg))
        return out

    def check(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> list[list[Match]]:
        """For each text, one :class:`Match` per benchmark (in index order)."""
        if not texts:
            return []
        cfg = self.config
        ng = self.ngram_scores(texts)
        em = None
        if cfg.use_embeddings:
            em = self.embedding_scores(
                texts, embeddings, settled=[best >= cfg.ngram_threshold for best, _ in ng]
            )
        results: list[list[Match]] = [[] for _ in texts]
        for b, bi in enumerate(self.benches):
            best, best_item = ng[b]
            for i in range(len(texts)):
                ov = float(best[i])
                item = int(best_item[i])
                cos, citem = (
                    (float(em[b][0][i]), int(em[b][1][i]))
                    if em is not None and bi.bench.texts
                    else (None, None)
                )
                flagged = ov >= cfg.ngram_threshold or (cos is not None and cos >= cfg.cosine_threshold)
                # the closest item: the n-gram match when it is the stronger evidence, else the embedding one
                closest = (
                    item
                    if item >= 0 and (cos is None or ov >= cfg.ngram_threshold or citem is None)
                    else citem
                )
                results[i].append(
                    Match(
                        benchmark=bi.bench.name,
                        flagged=flagged,
                        ngram_overlap=round(ov, 4),
                        ngram_item=item if item >= 0 else None,
                        cosine=None if cos is None else round(cos, 4),
                        cosine_item=citem,
                        closest_id=bi.bench.ids[closest] if closest is not None and closest >= 0 else None,
                        closest_text=bi.bench.texts[closest][:300]
                        if closest is not None and closest >= 0
                        else None,
                    )
                )
        return results


def closest_match(matches: Sequence[Match]) -> Match | None:
    """The strongest match over all benchmarks (n-gram overlap first, then cosine)."""
    if not matches:
        return None
    return max(matches, key=lambda m: (m.flagged, m.ngram_overlap, m.cosine if m.cosine is not None else -1))
