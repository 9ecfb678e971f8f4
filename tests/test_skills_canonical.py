"""Canonicalization with the real MiniLM: paraphrases meet, unrelated text maps to nothing;
discovery clusters what the catalog lacks."""

from __future__ import annotations

import pytest

from sample_forge.records import SkillTag
from sample_forge.skills.canonical import Canonicalizer, discover_skills
from sample_forge.skills.spectrum import fill_spectrum, plot_spectrum, pool_stats


@pytest.fixture(scope="module")
def canon() -> Canonicalizer:
    return Canonicalizer()


@pytest.mark.parametrize(
    "category,paraphrases,expected",
    [
        (
            "Number Theory",
            ["modular arithmetic", "arithmetic modulo n", "congruences mod n"],
            "modular arithmetic",
        ),
        (
            "Number Theory",
            ["greatest common divisor", "GCD", "Euclidean algorithm"],
            "greatest common divisor",
        ),
        (
            "Algebra",
            ["solving quadratic equations", "the quadratic formula", "solve a quadratic equation"],
            "quadratic equations",
        ),
        (
            "Geometry",
            ["Pythagorean theorem", "Pythagoras' theorem", "a^2+b^2=c^2 in a right triangle"],
            "Pythagorean theorem",
        ),
        (
            "Probability",
            ["expected value", "expectation of a random variable", "linearity of expectation"],
            "expected value",
        ),
        (
            "Precalculus",
            ["dot product", "scalar product of vectors", "inner product of two vectors"],
            "dot product and projections",
        ),
    ],
)
def test_paraphrases_map_to_the_same_skill(
    canon: Canonicalizer, category: str, paraphrases: list[str], expected: str
) -> None:
    assert canon.map(paraphrases, category) == [expected] * len(paraphrases)


def test_unrelated_text_maps_to_nothing(canon: Canonicalizer) -> None:
    junk = ["the weather in Paris", "cooking pasta", "basketball", "Shakespeare sonnets", "guitar"]
    for cat in ("Algebra", "Geometry", "Precalculus"):
        assert canon.map(junk, cat) == [None] * len(junk)


def test_canonicalize_groups_and_dedups(canon: Canonicalizer) -> None:
    raw = {
        "Algebra": ["quadratic formula", "solving quadratic equations", "cooking pasta"],
        "Number Theory": ["prime factorization", "Mendelian inheritance with Punnett squares"],
    }
    canonical, unmatched = canon.canonicalize(raw)
    assert canonical["Algebra"] == ["quadratic equations"]
    assert canonical["Number Theory"] == ["prime factorization"]
    assert canonical["Cross-domain"] == ["population genetics and Punnett squares"]
    assert unmatched == ["cooking pasta"]
    tag = fill_spectrum(SkillTag("p1", "llm", raw=raw, canonical=canonical))
    assert tag.spectrum == {"Algebra": 1, "Number Theory": 1, "Cross-domain": 1}
    assert tag.total == 3 and tag.breadth == 2


def test_discover_clusters_missing_skills(canon: Canonicalizer) -> None:
    items = [
        ("Algebra", t)
        for t in ["Cayley-Hamilton theorem"] * 2
        + ["the Cayley Hamilton theorem", "Cayley-Hamilton theorem."]
        + ["quadratic formula"] * 5
        + ["lattice reduction algorithm"]
    ]
    props = discover_skills(items, canonicalizer=canon, min_count=2)
    assert props, "the Cayley-Hamilton cluster should be proposed"
    top = props[0]
    assert "cayley" in top.name.lower() and top.count == 4 and top.category == "Algebra"
    assert all("quadratic" not in p.name.lower() for p in props)  # already in the catalog
    assert all(p.count >= 2 for p in props)


def test_pool_stats_and_plots(tmp_path) -> None:
    tags = [
        fill_spectrum(
            SkillTag(
                f"p{i}",
                "embed",
                canonical={"Algebra": ["linear equations"], "Geometry": ["circles"] if i % 2 else []},
            )
        )
        for i in range(4)
    ]
    tags.append(SkillTag("p9", "llm", failures={"Geometry": "parse: no <answer></answer> tags"}))
    stats = pool_stats(tags, {"p0": "Algebra", "p1": "Geometry"})
    assert stats["problems"] == 5
    assert stats["skills"]["Algebra"] == {"linear equations": 4}
    assert stats["skills"]["Geometry"] == {"circles": 2}
    assert stats["by_subject"]["Geometry"] == {"linear equations": 1, "circles": 1}
    assert stats["failures"] == {"parse": 1}
    assert stats["breadth"] == {0: 1, 1: 2, 2: 2}
    for kind in ("bar", "radar"):
        out = plot_spectrum(stats, tmp_path / f"{kind}.png", kind=kind)
        assert out.stat().st_size > 2000 and out.read_bytes()[:4] == b"\x89PNG"
