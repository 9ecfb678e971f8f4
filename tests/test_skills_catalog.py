"""The shipped skill catalog and thresholds: shape, descriptions, loading errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_forge.errors import InputError
from sample_forge.skills.catalog import CROSS_DOMAIN, GROUPS, load_catalog
from sample_forge.skills.embed_tagger import load_thresholds
from sample_forge.subjects import CATEGORIES


def test_catalog_shape() -> None:
    cat = load_catalog()
    for c in CATEGORIES:
        skills = cat.group(c)
        assert 20 <= len(skills) <= 40, (c, len(skills))
        for s in skills:
            assert len(s.description.split()) >= 4, s
    cross = {s.name for s in cat.group(CROSS_DOMAIN)}
    for needed in (
        "logical reasoning",
        "exact arithmetic",
        "units and dimensional analysis",
        "kinematics",
        "stoichiometry",
        "population genetics and Punnett squares",
        "radioactive decay and half-life",
        "electric circuits",
        "optics",
    ):
        assert needed in cross
    names = [s.name.lower() for s in cat.skills]
    assert len(names) == len(set(names))
    assert cat.get("Modular Arithmetic").group == "Number Theory"


def test_catalog_embeddings_cached_on_disk(isolated_user_dir: Path) -> None:
    import numpy as np

    from sample_forge.skills.catalog import _catalog_vectors

    _catalog_vectors.cache_clear()  # other tests filled the in-memory cache from their own user dir
    cat = load_catalog()
    vecs = cat.embeddings()
    assert vecs.shape == (len(cat), 384)
    [cached] = isolated_user_dir.rglob(f"skill_catalog_{cat.fingerprint}.npy")
    _catalog_vectors.cache_clear()
    assert np.array_equal(np.load(cached), vecs) and np.array_equal(cat.embeddings(), vecs)


def test_shipped_thresholds_cover_all_groups() -> None:
    th = load_thresholds()
    assert set(th.values) == set(GROUPS)
    assert all(0.0 < v < 1.0 for v in th.values.values())


@pytest.mark.parametrize(
    "text,field",
    [
        ("categories: [1, 2]", "categories"),
        ("categories:\n  Algebra:\n    - {name: x}\n", "Algebra[0]"),
        ("categories:\n  Algebra:\n    - {description: y}\n", "Algebra[0]"),
        ("categories:\n  Topology:\n    - {name: x, description: y}\n", "categories"),
        (
            "categories:\n  Algebra:\n    - {name: x, description: y}\n    - {name: X, description: z}\n",
            "Algebra[1]",
        ),
    ],
)
def test_bad_catalog_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    p = tmp_path / "skills.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_catalog(p)
    assert str(p) in str(e.value) and field in str(e.value)


def test_bad_thresholds_file(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    p.write_text('{"thresholds": {"Algebra": 0.3}}', encoding="utf-8")
    with pytest.raises(InputError, match="missing groups"):
        load_thresholds(p)
