"""Map free-text skills to catalog skills (nearest neighbour by MiniLM cosine similarity, with a
floor), and cluster the leftovers into proposed new catalog entries (agglomerative clustering)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sample_forge.skills.catalog import CROSS_DOMAIN, Catalog, load_catalog

__all__ = ["CanonicalConfig", "Canonicalizer", "Proposal", "discover_skills"]


@dataclass(frozen=True)
class CanonicalConfig:
    """``min_similarity``: cosine floor below which a free-text skill maps to nothing (it is then a
    candidate for ``skills discover``); ``cross_domain``: also search the cross-domain entries."""

    min_similarity: float = 0.45
    cross_domain: bool = True


class Canonicalizer:
    """``map(texts, category)`` -> catalog skill (or None) per text. Free-text embeddings are cached
    in memory by lower-cased text, so a pool's repeated skills are embedded once."""

    def __init__(self, catalog: Catalog | None = None, config: CanonicalConfig = CanonicalConfig()):
        from sklearn.neighbors import NearestNeighbors

        self.catalog = catalog or load_catalog()
        self.config = config
        vecs = self.catalog.embeddings()
        self._nn: dict[str, tuple[NearestNeighbors, np.ndarray]] = {}
        groups = {s.group for s in self.catalog.skills}
        for g in groups:
            idx = self.catalog.indices(g)
            if config.cross_domain and g != CROSS_DOMAIN:
                idx = np.concatenate([idx, self.catalog.indices(CROSS_DOMAIN)])
            self._nn[g] = (NearestNeighbors(n_neighbors=1, metric="cosine").fit(vecs[idx]), idx)
        all_idx = np.arange(len(self.catalog))
        self._nn[""] = (NearestNeighbors(n_neighbors=1, metric="cosine").fit(vecs), all_idx)
        self._vec_cache: dict[str, np.ndarray] = {}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        from sample_forge.embed import embed

        keys = [t.strip().lower() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vec_cache))
        if missing:
            for k, v in zip(missing, embed(missing, batch_size=256)):
                self._vec_cache[k] = v
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vec_cache[k] for k in keys])

    def nearest(self, texts: Sequence[str], category: str | None = None) -> list[tuple[str, float]]:
        """(catalog skill name, cosine similarity) of the nearest catalog skill per text, searched in
        ``category`` (+ cross-domain) or in the whole catalog."""
        if not texts:
            return []
        nn, idx = self._nn.get(category or "", self._nn[""])
        dist, pos = nn.kneighbors(self.vectors(texts), n_neighbors=1)
        return [(self.catalog.skills[idx[p]].name, float(1.0 - d)) for d, p in zip(dist[:, 0], pos[:, 0])]

    def map(self, texts: Sequence[str], category: str | None = None) -> list[str | None]:
        floor = self.config.min_similarity
        return [name if sim >= floor else None for name, sim in self.nearest(texts, category)]

    def canonicalize(self, raw: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[str]]:
        """Per-category free text -> per-group distinct catalog names (the cross-domain matches go
        under ``Cross-domain``), plus the texts that matched nothing."""
        out: dict[str, list[str]] = {}
        unmatched: list[str] = []
        for cat, texts in raw.items():
            for text, name in zip(texts, self.map(texts, cat)):
                if name is None:
                    unmatched.append(text)
                    continue
                group = self.catalog.get(name).group  # type: ignore[union-attr]
                names = out.setdefault(group, [])
                if name not in names:
                    names.append(name)
        return out, unmatched


@dataclass
class Proposal:
    """A proposed new catalog entry: a cluster of free-text skills that matched nothing well."""

    name: str  # the member closest to the cluster centre
    category: str
    count: int  # occurrences in the tagged pool
    members: list[str] = field(default_factory=list)  # distinct texts, most frequent first
    nearest: str = ""  # nearest existing catalog skill and its similarity
    similarity: float = 0.0


def discover_skills(
    items: Iterable[tuple[str, str]],
    *,
    canonicalizer: Canonicalizer | None = None,
    distance_threshold: float = 0.35,
    min_count: int = 2,
    include_matched: bool = False,
) -> list[Proposal]:
    """Cluster free-text skills ``(category, text)`` per category and propose new catalog entries,
    largest clusters first. Only texts below the canonicalizer's floor are clustered unless
    ``include_matched``. ``distance_threshold``: cosine distance at which clusters stop merging
    (average linkage)."""
    from sklearn.cluster import AgglomerativeClustering

    canon = canonicalizer or Canonicalizer()
    by_cat: dict[str, Counter[str]] = {}
    display: dict[str, str] = {}
    for cat, text in items:
        key = text.strip().lower()
        if key:
            by_cat.setdefault(cat, Counter())[key] += 1
            display.setdefault(key, text.strip())
    proposals: list[Proposal] = []
    for cat, counts in sorted(by_cat.items()):
        texts = list(counts)
        near = canon.nearest(texts, cat)
        if not include_matched:
            keep = [i for i, (_, sim) in enumerate(near) if sim < canon.config.min_similarity]
            texts = [texts[i] for i in keep]
        if not texts:
            continue
        vecs = canon.vectors(texts)
        if len(texts) == 1:
            labels = np.zeros(1, dtype=int)
        else:
            labels = AgglomerativeClustering(
                n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance_threshold
            ).fit_predict(vecs)
        for lab in np.unique(labels):
            members = [texts[i] for i in np.flatnonzero(labels == lab)]
            count = sum(counts[m] for m in members)
            if count < min_count:
                continue
            mv = canon.vectors(members)
            centre = mv.mean(0)
            rep = members[int(np.argmax(mv @ centre))]
            nearest_name, sim = canon.nearest([rep], cat)[0]
            members.sort(key=lambda m: -counts[m])
            proposals.append(
                Proposal(display[rep], cat, count, [display[m] for m in members], nearest_name, round(sim, 3))
            )
    proposals.sort(key=lambda p: (-p.count, p.category, p.name))
    return proposals
