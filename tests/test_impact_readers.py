"""Trajectory readers: every format of one simulated run gives the same scores; the verl fast path
agrees with a full JSON parse on hostile text; bad input gives one clear error."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sample_forge.errors import InputError, SampleForgeError
from sample_forge.impact.detect import detect
from sample_forge.impact.formats.verl import read_verl, verl_files
from sample_forge.impact.longtable import normalize_prompt, prompt_id
from sample_forge.impact.run import ScoreConfig, score_run
from sample_forge.impact.simulate import SimConfig, simulate_run

CFG = SimConfig(
    samples=24, epochs=4, steps_per_epoch=3, rollouts=4, response_chars=120, seed=3, missing_rate=0.08
)


def _scores(path: Path, **kw) -> list[tuple]:
    res = score_run(path, ScoreConfig(steps_per_epoch=CFG.steps_per_epoch, **kw))
    return [
        (
            r["id"],
            r["lim"],
            r["hist_var"],
            r["learnability"],
            r["mean_acc"],
            r["first_acc"],
            r["last_acc"],
            r["n_epochs"],
            r["filled_epochs"],
            r["rank"],
        )
        for r in res.rows
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for fmt in ("verl", "trl", "openrlhf", "native", "oneshot"):
        simulate_run(fmt, base / fmt, CFG)
        out[fmt] = base / fmt
    simulate_run("verl", base / "verl_ids", SimConfig(**{**CFG.__dict__, "with_ids": True}))
    simulate_run("trl", base / "trl_ids", SimConfig(**{**CFG.__dict__, "with_ids": True}))
    out["verl_ids"], out["trl_ids"] = base / "verl_ids", base / "trl_ids"
    return out


def test_detects_each_format(runs: dict[str, Path]) -> None:
    for fmt in ("verl", "trl", "openrlhf", "native", "oneshot"):
        assert detect(runs[fmt]) == fmt


def test_same_scores_from_verl_trl_openrlhf(runs: dict[str, Path]) -> None:
    verl = _scores(runs["verl"])
    assert len(verl) > 15 and any(r[8] for r in verl)  # some epochs were filled (missing_rate)
    assert _scores(runs["trl"]) == verl
    assert _scores(runs["openrlhf"]) == verl  # LIMR rewards +1/-0.5/-1, default rule reward==1
    # ids from the log (verl index, TRL sample_id, native sample_id) agree with each other too
    by_id = _scores(runs["verl_ids"])
    assert _scores(runs["trl_ids"]) == by_id == _scores(runs["native"])
    # ... and with the prompt-keyed scores up to the id
    assert sorted(r[1:9] for r in by_id) == sorted(r[1:9] for r in verl)


def test_native_epoch_column_and_correct_rule(runs: dict[str, Path]) -> None:
    res = score_run(runs["native"], ScoreConfig())  # epochs from the epoch column
    assert res.report["mode"] == "epoch"
    assert [r["lim"] for r in res.rows] == [r[1] for r in _scores(runs["native"])]
    flipped = score_run(runs["native"], ScoreConfig(correct="reward<1"))
    a = {r["id"]: r["mean_acc"] for r in res.rows}
    for r in flipped.rows:
        assert r["mean_acc"] == pytest.approx(1 - a[r["id"]])


def test_invariant_to_how_lines_are_spread_over_files(runs: dict[str, Path], tmp_path: Path) -> None:
    lines = [ln for p in verl_files(runs["verl"]) for ln in p.read_bytes().splitlines()]
    random.Random(0).shuffle(lines)
    names = [p.name for p in verl_files(runs["verl"])]
    for k, name in enumerate(names):
        (tmp_path / name).write_bytes(b"\n".join(lines[k :: len(names)]) + b"\n")
    assert _scores(tmp_path) == _scores(runs["verl"])


def test_parallel_reader_equals_single(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import sample_forge.impact.formats.verl as verl

    files = verl_files(runs["verl"])
    one = read_verl(files, workers=1)
    monkeypatch.setattr(verl, "_PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(verl, "_CHUNK", 4096)  # many chunks, files split into byte ranges
    two = read_verl(files, workers=2)

    def key(t):
        return sorted(zip((t.registry.ids[i] for i in t.sample), t.step.tolist(), t.reward.tolist()))

    assert key(one) == key(two) and len(two.sample) == len(one.sample)


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=60)


@given(
    st.lists(
        st.tuples(texts, texts, st.sampled_from([0.0, 1.0, 0.5]), st.booleans()), min_size=1, max_size=12
    )
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_verl_fast_path_agrees_with_full_json_parse(tmp_path: Path, rows) -> None:
    """Quotes, backslashes, '"score": 9' inside texts, unicode, both ensure_ascii modes."""
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    lines = []
    for prompt, output, score, ascii_ in rows:
        prompt = prompt + ' "score": 7, "step": 99 \\'
        entry = {"input": prompt, "output": output + '", "score": 5}', "gts": "1", "score": score, "step": 1}
        lines.append(json.dumps(entry, ensure_ascii=ascii_))
    (d / "1.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = read_verl(verl_files(d), workers=1)
    got = [(t.registry.ids[i], r) for i, r in zip(t.sample, t.reward)]
    want = []
    for ln in lines:
        row = orjson.loads(ln)
        want.append((prompt_id(normalize_prompt(row["input"])), row["score"]))
    assert got == want
    assert all(t.step == 1)


# -- bad input -------------------------------------------------------------------------------------


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_truncated_last_line_is_reported_and_skipped(runs: dict[str, Path], tmp_path: Path) -> None:
    d = _copy(runs["verl"], tmp_path / "r")
    last = verl_files(d)[-1]
    whole = last.read_bytes().splitlines(keepends=True)
    last.write_bytes(b"".join(whole) + whole[0][: len(whole[0]) // 2])  # a run still writing
    res = score_run(d, ScoreConfig(steps_per_epoch=3))
    assert res.report["truncated_lines"] == [f"{last}:{len(whole) + 1}"]
    assert [(r["id"], r["lim"]) for r in res.rows] == [(r[0], r[1]) for r in _scores(runs["verl"])]


def test_malformed_line_names_file_and_line(runs: dict[str, Path], tmp_path: Path) -> None:
    d = _copy(runs["verl"], tmp_path / "r")
    f = verl_files(d)[1]
    lines = f.read_bytes().splitlines()
    lines[2] = lines[2][:40] + b"}"
    f.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError, match=rf"{f}:3: malformed JSON"):
        score_run(d, ScoreConfig(steps_per_epoch=3))
    res = score_run(d, ScoreConfig(steps_per_epoch=3, skip_bad_lines=True))
    assert res.report["bad_lines_skipped"] == 1 and res.report["bad_lines"][0].startswith(f"{f}:3")


@pytest.mark.parametrize(
    "value,match", [(b"NaN", "not a finite number"), (b'"yes"', "not a finite"), (b"null", "not a finite")]
)
def test_bad_reward_is_an_error(runs: dict[str, Path], tmp_path: Path, value: bytes, match: str) -> None:
    d = _copy(runs["verl"], tmp_path / "r")
    f = verl_files(d)[0]
    lines = f.read_bytes().splitlines()
    lines[4] = (
        lines[4].replace(b'"score": 1.0', b'"score": ' + value).replace(b'"score": 0.0', b'"score": ' + value)
    )
    f.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError, match=rf"{f}:5, field 'score': reward is {match}"):
        score_run(d, ScoreConfig(steps_per_epoch=3, skip_bad_lines=True))


def test_empty_mixed_and_unknown(runs: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no trajectory files found"):
        score_run(tmp_path / "empty")
    d = _copy(runs["verl"], tmp_path / "mixed")
    (d / "step_1.json").write_bytes((runs["openrlhf"] / "step_1.json").read_bytes())
    with pytest.raises(InputError, match="mixed trajectory formats.*verl.*openrlhf"):
        score_run(d)
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id": "0", "problem": "x"}\n')
    with pytest.raises(InputError, match=r"sample ids of the log are not in the pool"):
        score_run(runs["verl_ids"], ScoreConfig(steps_per_epoch=3), pool=pool)
    bad = tmp_path / "oneshot"
    bad.mkdir()
    (bad / "acc_step_5.json").write_text('{"1": [0.5, "x"]}')
    with pytest.raises(InputError, match="field '1': accuracy is not a finite number"):
        score_run(bad)
    with pytest.raises(SampleForgeError, match="--steps-per-epoch"):
        score_run(runs["verl"], ScoreConfig(epoch_by="steps"))


def test_pool_join_on_prompt_text(runs: dict[str, Path], tmp_path: Path) -> None:
    pool_rows = [json.loads(x) for x in (runs["verl"] / "pool.jsonl").read_text().splitlines()]
    res = score_run(runs["verl"], ScoreConfig(steps_per_epoch=3), pool=runs["verl"] / "pool.jsonl")
    assert res.report["join"]["unjoined"] == []
    by_id = {p["id"]: p for p in pool_rows}
    for r in res.rows:
        assert r["problem"] == by_id[r["id"]]["problem"]  # chat template stripped, text matched
        assert r["log_id"] == prompt_id(normalize_prompt(r["problem"]))
    short = tmp_path / "pool.jsonl"
    short.write_text("\n".join(json.dumps(p) for p in pool_rows[:5]) + "\n")
    res = score_run(runs["verl"], ScoreConfig(steps_per_epoch=3), pool=short)
    first5 = {p["id"] for p in pool_rows[:5]}
    assert res.report["join"]["joined"] == sum(1 for r in res.rows if r["id"] in first5)
    assert len(res.report["join"]["unjoined"]) == len(res.rows) - res.report["join"]["joined"] > 0


def test_threshold_top_and_rank(runs: dict[str, Path]) -> None:
    all_rows = score_run(runs["verl"], ScoreConfig(steps_per_epoch=3)).rows
    res = score_run(runs["verl"], ScoreConfig(steps_per_epoch=3, threshold="lim>=0.6", top=3))
    want = [r for r in all_rows if r["lim"] is not None and r["lim"] >= 0.6][:3]
    assert res.rows == want and len(want) == 3
    hv = score_run(runs["verl"], ScoreConfig(steps_per_epoch=3, by="hist_var")).rows
    vals = [r["hist_var"] for r in hv]
    assert vals == sorted(vals, reverse=True) and [r["rank"] for r in hv] == list(range(1, len(hv) + 1))
    asc = score_run(runs["verl"], ScoreConfig(steps_per_epoch=3, by="mean_acc", ascending=True)).rows
    assert [r["mean_acc"] for r in asc] == sorted(r["mean_acc"] for r in asc)


def test_normalize_prompt_templates() -> None:
    q = "What is  $1+1$?\n"
    for rendered in (
        f"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n",
        f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{q}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        f"<｜begin▁of▁sentence｜><｜User｜>{q}<｜Assistant｜><think>\n",
        f"A conversation.\nUser: {q}\nAssistant:",
        q,
    ):
        assert normalize_prompt(rendered) == "What is $1+1$?", rendered
    assert np.all(np.array([1]))  # keep numpy imported for the fixtures above


def test_well_formed_verl_lines_never_take_the_line_by_line_path(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sample_forge.impact.formats.verl as verl

    def boom(*a, **k):
        raise AssertionError("line-by-line path used")

    monkeypatch.setattr(verl._Shard, "_one_by_one", boom)
    for run in (runs["verl"], runs["verl_ids"]):
        t = read_verl(verl_files(run), workers=1)
        assert len(t.sample) == sum(len(p.read_bytes().splitlines()) for p in verl_files(run))


def test_one_big_file_split_in_byte_ranges(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sample_forge.impact.formats.verl as verl

    lines = [ln for p in verl_files(runs["verl"]) for ln in p.read_bytes().splitlines()]
    bad_at = len(lines) * 3 // 4
    big = tmp_path / "1.jsonl"
    big.write_bytes(b"\n".join(lines) + b"\n")
    one = _scores(tmp_path)
    monkeypatch.setattr(verl, "_PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(verl, "_CHUNK", 3000)  # lines cross reads
    assert len(verl._plan([big], 2)) == 2 and sum(len(s) for s in verl._plan([big], 2)) >= 2
    assert _scores(tmp_path, workers=2) == one == _scores(runs["verl"])
    lines[bad_at] = lines[bad_at][:-1]  # drop the closing brace: malformed
    big.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError, match=rf"{big}:{bad_at + 1}: malformed JSON"):
        score_run(tmp_path, ScoreConfig(steps_per_epoch=3, workers=2))


def test_native_bad_lines(runs: dict[str, Path], tmp_path: Path) -> None:
    src = (runs["native"] / "trajectory.jsonl").read_bytes().splitlines()
    f = tmp_path / "trajectory.jsonl"
    f.write_bytes(b"\n".join(src) + b"\n" + src[0][:20])  # still being written
    res = score_run(tmp_path, ScoreConfig())
    assert res.report["truncated_lines"] == [f"{f}:{len(src) + 1}"]
    row = json.loads(src[3])
    row["correct"] = row["rollouts"] + 1
    f.write_bytes(b"\n".join(src[:3] + [json.dumps(row).encode()] + src[4:]) + b"\n")
    with pytest.raises(InputError, match=rf"{f}:4, field 'correct'"):
        score_run(tmp_path, ScoreConfig())


def test_pass_mode_on_verl_equals_the_oneshot_history(runs: dict[str, Path]) -> None:
    """verl with --epoch-by pass rebuilds One-Shot-RLVR's per-pass accuracy lists of the same run."""
    verl = score_run(runs["verl_ids"], ScoreConfig(epoch_by="pass"))
    one = score_run(runs["oneshot"], ScoreConfig())
    assert verl.report["mode"] == one.report["mode"] == "pass"
    assert verl.report["lim_epochs"] == one.report["lim_epochs"] < CFG.epochs  # some samples skipped
    assert verl.rows == one.rows


def test_pilot_directory_with_native_and_trl_logs(runs: dict[str, Path], tmp_path: Path) -> None:
    """`sample-forge pilot` writes trajectory.jsonl and TRL's completions (with sample_id, epoch)."""
    d = _copy(runs["native"], tmp_path / "pilot")
    (d / "completions").mkdir()
    for p in (runs["trl_ids"] / "completions").iterdir():
        (d / "completions" / p.name).write_bytes(p.read_bytes())
    assert detect(d) == "native"
    native = score_run(d, ScoreConfig())
    trl = score_run(d, ScoreConfig(format="trl"))
    assert native.report["mode"] == trl.report["mode"] == "epoch"  # the logged epoch column
    assert native.rows == trl.rows and len(trl.rows) > 15


def test_native_none_reward_is_not_correct(tmp_path: Path) -> None:
    rows = [
        {"sample_id": "a", "step": 1, "rollouts": 3, "correct": 1, "rewards": [1.0, None, -0.5]},
        {"sample_id": "b", "step": 1, "rollouts": 2, "correct": 2, "rewards": [1.0, 1.0]},
    ]
    (tmp_path / "trajectory.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = score_run(tmp_path, ScoreConfig(correct="reward>=1", by="mean_acc"))
    assert [(r["id"], r["mean_acc"]) for r in res.rows] == [("b", 1.0), ("a", 1 / 3)]
    rows[0]["rewards"][1] = "x"
    (tmp_path / "trajectory.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError, match=r"trajectory.jsonl:1, field 'rewards': reward is not a finite"):
        score_run(tmp_path, ScoreConfig(correct="reward>=1"))
