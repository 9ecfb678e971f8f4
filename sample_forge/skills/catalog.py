"""The skill catalog (``data/skills.yaml``): canonical skills per paper category plus cross-domain
entries, and their embeddings (computed once per process, cached on disk by content hash)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sample_forge.errors import InputError
from sample_forge.subjects import CATEGORIES

__all__ = ["CROSS_DOMAIN", "GROUPS", "Skill", "Catalog", "load_catalog"]

CROSS_DOMAIN = "Cross-domain"
GROUPS = (*CATEGORIES, CROSS_DOMAIN)  # the five paper categories, then cross-domain


@dataclass(frozen=True)
class Skill:
    """One canonical skill: ``group`` is a paper category or ``Cross-domain``."""

    name: str
    group: str
    description: str

    @property
    def text(self) -> str:
        """What the embedders compare against."""
        return f"{self.name}: {self.description}"


@dataclass(frozen=True)
class Catalog:
    """An ordered list of skills; ``source`` names the YAML file it came from."""

    skills: tuple[Skill, ...]
    source: str = ""
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({s.name.lower(): i for i, s in enumerate(self.skills)})

    def __len__(self) -> int:
        return len(self.skills)

    def group(self, name: str) -> list[Skill]:
        return [s for s in self.skills if s.group == name]

    def indices(self, group: str) -> np.ndarray:
        return np.array([i for i, s in enumerate(self.skills) if s.group == group], dtype=np.int64)

    def get(self, name: str) -> Skill | None:
        i = self._index.get(name.lower())
        return None if i is None else self.skills[i]

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for s in self.skills:
            h.update(f"{s.group}\t{s.text}\n".encode())
        return h.hexdigest()[:16]

    def embeddings(self) -> np.ndarray:
        """Normalized embeddings of ``skill.text``, shape (len, 384); cached in memory and on disk."""
        return _catalog_vectors(self.fingerprint, tuple(s.text for s in self.skills))


@functools.lru_cache(maxsize=8)
def _catalog_vectors(fingerprint: str, texts: tuple[str, ...]) -> np.ndarray:
    from sample_forge.embed import embed
    from sample_forge.paths import cache_dir

    path = cache_dir() / f"skill_catalog_{fingerprint}.npy"
    if path.exists():
        vecs = np.load(path)
        if vecs.shape == (len(texts), 384):
            return vecs
    vecs = embed(list(texts))
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vecs)
    tmp.replace(path)
    return vecs


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read a catalog YAML (default: the packaged ``data/skills.yaml``). Errors name the file and entry."""
    import yaml

    if path is None:
        from sample_forge.paths import resource_path

        path = resource_path("data/skills.yaml")
    p = Path(path)
    if not p.exists():
        raise InputError("no such skill catalog", path=str(p))
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"malformed YAML ({e})", path=str(p)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), dict):
        raise InputError("expected a mapping with 'categories'", path=str(p), field="categories")
    skills: list[Skill] = []
    seen: set[str] = set()
    sections = [(c, doc["categories"].get(c) or []) for c in CATEGORIES]
    unknown = set(doc["categories"]) - set(CATEGORIES)
    if unknown:
        raise InputError(
            f"unknown categories {sorted(unknown)}; use {list(CATEGORIES)}", path=str(p), field="categories"
        )
    sections.append((CROSS_DOMAIN, doc.get("cross_domain") or []))
    for group, entries in sections:
        for k, e in enumerate(entries):
            where = f"{group}[{k}]"
            if not isinstance(e, dict) or not str(e.get("name") or "").strip():
                raise InputError("entry needs a 'name'", path=str(p), field=where)
            extra = set(e) - {"name", "description"}
            if extra:  # e.g. an unquoted comma in a YAML flow mapping splits the name
                raise InputError(
                    f"unexpected keys {sorted(map(str, extra))} (quote names with commas)",
                    path=str(p),
                    field=where,
                )
            name = str(e["name"]).strip()
            desc = str(e.get("description") or "").strip()
            if not desc:
                raise InputError(f"skill '{name}' needs a 'description'", path=str(p), field=where)
            if name.lower() in seen:
                raise InputError(f"duplicate skill name '{name}'", path=str(p), field=where)
            seen.add(name.lower())
            skills.append(Skill(name, group, desc))
    return Catalog(tuple(skills), source=str(p))
