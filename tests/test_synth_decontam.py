"""Decontamination on real benchmarks (../shared/data): paraphrases of MATH-500 and AIME problems in the
validation suite must be flagged for their benchmark, clean new problems must not; precision/recall reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from sample_forge.errors import InputError, SampleForgeError
from sample_forge.synth.decontam import (
    Benchmark,
    DecontamConfig,
    DecontamIndex,
    load_benchmark,
    normalize_words,
    resolve_benchmarks,
)

SUITE = Path(__file__).parent / "data" / "synth_validation_suite.jsonl"
BENCHES = ["math500", "aime24", "aime25", "amc23"]


def suite() -> list[dict]:
    return [orjson.loads(line) for line in SUITE.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def index(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> DecontamIndex:
    """One index per module; its embedding cache in a temp dir (never the user's real cache)."""
    home = tmp_path_factory.mktemp("decontam_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAMPLE_FORGE_HOME", str(home))
        specs = resolve_benchmarks(BENCHES, root=shared_data)
        idx = DecontamIndex.build([load_benchmark(s) for s in specs])
    idx.home = home  # type: ignore[attr-defined]
    return idx


def test_precision_recall_on_validation_suite(
    index: DecontamIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = suite()
    results = index.check([r["problem"] for r in rows])
    tp = fp = fn = tn = 0
    for r, matches in zip(rows, results):
        flagged = any(m.flagged for m in matches)
        if r["contaminated"]:
            # flagged for the right benchmark, with the source problem as the closest match
            own = next(m for m in matches if m.benchmark == r["benchmark"])
            assert own.flagged, (r["id"], own)
            if r["benchmark"] == "math500":
                assert own.closest_id == r["source_id"], r["id"]
        tp += flagged and r["contaminated"]
        fp += flagged and not r["contaminated"]
        fn += (not flagged) and r["contaminated"]
        tn += (not flagged) and not r["contaminated"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    with capsys.disabled():
        print(
            f"\ndecontamination on the validation suite: precision {precision:.2f}, recall {recall:.2f} "
            f"(tp {tp}, fp {fp}, fn {fn}, tn {tn}; cosine >= {index.config.cosine_threshold}, "
            f"{index.config.ngram}-gram overlap >= {index.config.ngram_threshold})"
        )
    assert tp + fn >= 16 and fp + tn >= 30
    assert precision >= 0.9 and recall >= 0.9


def test_int8_screen_gives_the_float_models_flags(index: DecontamIndex, shared_data: Path) -> None:
    """The screen may only change speed: on the suite and on 800 real MATH test problems (a few hundred of
    them lightly edited so that many cosines sit near the threshold) every flag equals the float model's,
    and every cosine near the threshold (where n-grams do not already flag) is the float model's exactly."""
    from dataclasses import replace

    from sample_forge.embed import get_screen_embedder

    if get_screen_embedder() is None:
        pytest.skip("int8 MiniLM rejected on this CPU (cosine error above its bound): no screen to test")
    rows = [
        orjson.loads(x)["problem"]
        for x in (shared_data / "math" / "math_test.jsonl").read_bytes().splitlines()
    ]
    texts = [r["problem"] for r in suite()] + rows[:500]
    texts += ["Consider this problem. " + " ".join(t.split()[2:]) for t in rows[500:800]]
    screened = DecontamIndex(replace(index.config, screen=True), index.benches, index.vocab)
    exact = DecontamIndex(replace(index.config, screen=False), index.benches, index.vocab)
    a, b = screened.check(texts), exact.check(texts)
    assert screened.screened == len(texts) and 0 < screened.rescreened < len(texts)
    assert exact.screened == 0
    thr, margin = index.config.cosine_threshold, index.config.screen_margin
    near = 0
    for ma, mb in zip(a, b):
        assert [m.flagged for m in ma] == [m.flagged for m in mb]
        for x, y in zip(ma, mb):
            assert abs(x.cosine - y.cosine) < 0.045
            if abs(y.cosine - thr) < margin / 2 and y.ngram_overlap < index.config.ngram_threshold:
                near += 1
                assert x.cosine == y.cosine
    assert near >= 5  # the edited copies really put cosines near the threshold


def test_ngrams_alone_catch_verbatim_copies(shared_data: Path) -> None:
    """Without embeddings, every MATH-500 problem of at least 8 words is found in MATH-500 by n-grams,
    and an unrelated pool (SciBench chemistry) is not."""
    cfg = DecontamConfig(use_embeddings=False)
    m500 = load_benchmark(resolve_benchmarks(["math500"], root=shared_data)[0])
    idx = DecontamIndex.build([m500], cfg)
    long = [t for t in m500.texts if len(normalize_words(t)) >= 8]
    res = idx.check(long)
    assert all(r[0].flagged and r[0].ngram_overlap == 1.0 for r in res)
    # a copy embedded in a longer text is still found (overlap measured on the shorter side)
    wrapped = "Here is a warm-up from class. " + long[3] + " Explain your reasoning."
    assert idx.check([wrapped])[0][0].flagged
    chem = load_benchmark(resolve_benchmarks(["scibench_chemistry"], root=shared_data)[0])
    hits = sum(r[0].flagged for r in idx.check(chem.texts))
    assert hits <= 2, hits


def test_math_train_overlaps_math_test_and_mmlu_pro(shared_data: Path) -> None:
    """Natural samples are contaminated too: some MATH test problems sit verbatim in MMLU-Pro."""
    cfg = DecontamConfig(use_embeddings=False)
    idx = DecontamIndex.build(
        [load_benchmark(s) for s in resolve_benchmarks(["mmlu_pro"], root=shared_data)], cfg
    )
    rows = [
        orjson.loads(x) for x in (shared_data / "math" / "math_test.jsonl").read_bytes().splitlines()[:2000]
    ]
    flagged = [r for r, m in zip(rows, idx.check([r["problem"] for r in rows])) if m[0].flagged]
    assert len(flagged) >= 5
    assert all(m.closest_id for m in idx.check([flagged[0]["problem"]])[0])


def test_embeddings_cached_on_disk_by_content(index: DecontamIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    files = list((Path(index.home) / "cache" / "decontam").glob("*.npy"))  # type: ignore[attr-defined]
    assert len(files) == len(BENCHES)
    monkeypatch.setenv("SAMPLE_FORGE_HOME", str(index.home))  # type: ignore[attr-defined]
    small = next(bi for bi in index.benches if bi.bench.name == "aime24")
    b = small.bench
    again = DecontamIndex.build([b])
    assert again.embed_cache_hits == 1
    assert np.array_equal(again.benches[0].emb, small.emb)
    changed = Benchmark(b.name, [b.texts[0] + " (variant)"] + b.texts[1:], b.ids)
    other = DecontamIndex.build([changed])
    assert other.embed_cache_hits == 0
    assert len(list((Path(index.home) / "cache" / "decontam").glob("*.npy"))) == len(BENCHES) + 1  # type: ignore[attr-defined]


def test_registry_names_files_config_and_errors(shared_data: Path, tmp_path: Path) -> None:
    allspecs = resolve_benchmarks(["all"], root=shared_data)
    names = [s.name for s in allspecs]
    assert {"math500", "aime24", "aime25", "amc23", "mmlu_pro", "scibench_physics"} <= set(names)
    assert not any(n.startswith("gpqa") for n in names)  # the password-protected zip is skipped
    # the eval_benchmarks folder itself also works as a root
    assert resolve_benchmarks(["aime24"], root=shared_data / "eval_benchmarks")[0].path.endswith(
        "aime24.jsonl"
    )
    sci = load_benchmark(next(s for s in allspecs if s.name == "scibench_math"))
    assert len(sci.texts) == 147 and sci.ids[0]  # problem_text / problemid detected
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"question": "What is the derivative of the function x squared times sine of x?"}\n')
    cfg = tmp_path / "benchmarks.toml"
    cfg.write_text(f'root = "{shared_data}"\n[benchmarks.custom]\npath = "{mine.name}"\nfield = "question"\n')
    specs = resolve_benchmarks(["custom", "aime25", str(mine).replace("mine", "mine")], config=cfg)
    assert [s.name for s in specs] == ["custom", "aime25", "mine"]
    with pytest.raises(SampleForgeError, match="did you mean .*aime24"):
        resolve_benchmarks(["aime2"], root=shared_data)
    with pytest.raises(SampleForgeError, match="given twice"):
        resolve_benchmarks(["aime24", "aime24"], root=shared_data)
    with pytest.raises(SampleForgeError, match="not found; give --bench-root"):
        resolve_benchmarks(["aime24"], root=tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "ok"}\n{"problem": 3}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2, field 'problem'"):
        load_benchmark(resolve_benchmarks([str(bad)])[0])


def test_cli_decontam_writes_one_flag_per_benchmark(shared_data: Path, tmp_path: Path) -> None:
    from sample_forge.cli.main import cli

    rows = [r for r in suite() if r["kind"] in ("paraphrase", "clean")]
    src = tmp_path / "cands.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"id": r["id"], "problem": r["problem"]}) + b"\n" for r in rows))
    out = tmp_path / "flagged.jsonl"
    res = CliRunner().invoke(
        cli,
        [
            "decontam",
            str(src),
            "--against",
            "math500,aime24",
            "--against",
            "aime25",
            "--bench-root",
            str(shared_data),
            "--no-embed",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    got = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert len(got) == len(rows)
    assert {"contaminated_math500", "contaminated_aime24", "contaminated_aime25", "closest_id"} <= set(got[0])
    # n-grams alone catch only the close copies; clean rows are never flagged
    assert not any(g["contaminated"] for g, r in zip(got, rows) if r["kind"] == "clean")
    assert any(g["contaminated_math500"] for g, r in zip(got, rows) if r["benchmark"] == "math500")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "fine problem text"}\n{"problem": ""}\n')
    res = CliRunner().invoke(
        cli,
        [
            "decontam",
            str(bad),
            "--against",
            "aime24",
            "--bench-root",
            str(shared_data),
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert res.exit_code != 0 and "bad.jsonl:2, field 'problem'" in res.output
    assert not (tmp_path / "o.jsonl").exists()


def test_cli_exact_cosine_gives_the_same_flags(shared_data: Path, tmp_path: Path) -> None:
    from sample_forge.cli.main import cli

    rows = suite()
    src = tmp_path / "cands.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"id": r["id"], "problem": r["problem"]}) + b"\n" for r in rows))
    outs = {}
    for flag in ([], ["--exact-cosine"]):
        out = tmp_path / f"out{len(flag)}.jsonl"
        res = CliRunner().invoke(
            cli,
            [
                "decontam",
                str(src),
                "--against",
                "math500,aime24,aime25,amc23",
                "--bench-root",
                str(shared_data),
                *flag,
                "--out",
                str(out),
            ],
        )
        assert res.exit_code == 0, res.output
        outs[bool(flag)] = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    for a, b, r in zip(outs[False], outs[True], rows):
        assert {k: v for k, v in a.items() if k.startswith("contaminated")} == {
            k: v for k, v in b.items() if k.startswith("contaminated")
        }
        assert a["contaminated"] == r["contaminated"], r["id"]
        assert abs(a["closest_cosine"] - b["closest_cosine"]) < 0.045


def test_screen_settings_and_edge_cases(index: DecontamIndex) -> None:
    """A margin inside the int8 error cannot promise the float model's flags: refused. An empty query and an
    empty benchmark are answered, not crashed on; a low threshold skips the screen (its error is only
    bounded for cosines >= 0.5)."""
    from dataclasses import replace

    from sample_forge.embed import SCREEN_MAX_ERROR

    with pytest.raises(SampleForgeError, match="screen_margin"):
        DecontamConfig(screen_margin=SCREEN_MAX_ERROR / 2)
    DecontamConfig(screen=False, screen_margin=0.0)  # no screen, nothing to promise
    assert index.check([]) == []
    empty = DecontamIndex.build([Benchmark("empty", [], [])])
    [[m]] = empty.check(["A train travels 60 miles in 1.5 hours. What is its average speed in mph?"])
    assert not m.flagged and m.cosine is None and m.closest_id is None
    low = DecontamIndex(replace(index.config, cosine_threshold=0.3), index.benches, index.vocab)
    low.check(["Compute $3+4$."])
    assert low.screened == 0
