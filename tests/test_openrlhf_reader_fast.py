"""The OpenRLHF/LIMR reader skips response text without parsing it, equals a full parse on every
layout ``json.dump`` writes, and parses in full (saying so) any file of another shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sample_forge.impact.formats.openrlhf import _Reader, read_openrlhf

_PROMPTS = [
    "What is $\\frac{1}{2}+1$?",
    'She wrote "42" and left \\',
    "Ünïcödé: π ≈ 3.14, 求解 x",
    'ends in a quote"',
    "tab\tand\nnewline",
]
_RESPONSES = [
    'so "prompt": "x", "reward": 1.0 was not it',
    "a backslash at the end \\",
    '\\"escaped\\" and }, {"prompt": "no"',
    "ü ≠ u",
    "",
]
_REWARDS = [1.0, -0.5, -1.0, 1, -0.5]


def _records(step: int, reward_as_list: bool = False) -> list[dict]:
    out = []
    for i, p in enumerate(_PROMPTS):
        for k, r in enumerate(_RESPONSES):
            reward = _REWARDS[(i + k + step) % 5]
            out.append(
                {
                    "prompt": p,
                    "response": r,
                    "reward": [reward] if reward_as_list else reward,
                    "response_length": len(r) + k,
                }
            )
    return out


LAYOUTS = {
    "indent=4 (LIMR)": dict(indent=4),
    "indent=4 ensure_ascii=False": dict(indent=4, ensure_ascii=False),
    "compact": dict(),
    "compact no spaces": dict(separators=(",", ":")),
    "indent=2": dict(indent=2, ensure_ascii=False),
    "indent tab": dict(indent="\t"),
    "one record per line": dict(indent="per line"),
}


def _write(d: Path, layout: dict, steps=(1, 2, 3), **kw) -> list[Path]:
    files = []
    for s in steps:
        p = d / f"step_{s}.json"
        recs = _records(s, **kw)
        if layout.get("indent") == "per line":  # a pretty-printed list: one compact record a line
            text = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n]\n"
        else:
            text = json.dumps(recs, **layout)
        p.write_text(text, encoding="utf-8")
        files.append(p)
    return files


def _table(t) -> list[tuple[str, int, float]]:
    """(sample id, step, reward) per rollout, sorted: the reader tallies a step's rollouts."""
    t = t.expanded()
    return sorted((t.registry.ids[i], int(s), float(r)) for i, s, r in zip(t.sample, t.step, t.reward))


def _full(files: list[Path]) -> list[tuple[str, int, float]]:
    reader = _Reader(skip_bad=False)
    out = []
    for p in files:
        idx, vals = reader.full(p, p.read_bytes(), last=False)
        k = int(p.stem.split("_")[1])
        out += [(reader.ids[i], k, v) for i, v in zip(idx, vals)]
    return sorted(out)


@pytest.mark.parametrize("layout", list(LAYOUTS), ids=list(LAYOUTS))
def test_fast_reader_equals_full_parse(tmp_path: Path, layout: str) -> None:
    files = _write(tmp_path, LAYOUTS[layout])
    for p in files:  # the shape is recognised: the fast path read it
        assert not isinstance(_Reader(False).fast(p.read_bytes()), str), p
    t = read_openrlhf(files, workers=1)
    assert _table(t) == _full(files)
    assert not t.stats.notes


def test_reward_in_a_list(tmp_path: Path) -> None:
    files = _write(tmp_path, dict(indent=4), reward_as_list=True)
    t = read_openrlhf(files, workers=1)
    assert _table(t) == _full(files) and not t.stats.notes


@pytest.mark.parametrize(
    "change",
    ["response first", "nested reward", "prompt not a string"],
)
def test_other_shapes_are_parsed_in_full(tmp_path: Path, change: str) -> None:
    recs = _records(1)
    if change == "response first":
        recs = [{"response": r["response"], **r} for r in recs]
    elif change == "nested reward":
        recs = [{**r, "extra": {"reward": 0.0}} for r in recs]
    elif change == "prompt not a string":
        recs[3]["prompt"] = ["a", "list"]
    text = json.dumps(recs, indent=4)
    (tmp_path / "step_1.json").write_text(text)
    (tmp_path / "step_2.json").write_text(json.dumps(_records(2), indent=4))
    files = [tmp_path / "step_1.json", tmp_path / "step_2.json"]
    t = read_openrlhf(files, workers=1)
    assert _table(t) == _full(files)
    assert any("step_1.json" in n and "full JSON parser" in n for n in t.stats.notes)
    assert len(t.registry) == len({row[0] for row in _table(t)})  # no sample left over from the fast try


def test_two_reader_processes_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sample_forge.impact.formats.openrlhf as orl

    files = _write(tmp_path, dict(indent=4), steps=range(1, 7))
    one = _table(read_openrlhf(files, workers=1))
    monkeypatch.setattr(orl, "_PARALLEL_MIN_BYTES", 1)
    assert sorted(_table(read_openrlhf(files, workers=2))) == sorted(one)


def test_step_gaps_are_named(tmp_path: Path) -> None:
    files = _write(tmp_path, dict(indent=4), steps=(1, 2, 5, 6, 9))
    t = read_openrlhf(files, workers=1)
    note = [n for n in t.stats.notes if "skip" in n]
    assert note and "3 of steps 1-9 are missing (3, 4, 7, 8)" not in note[0]
    assert "4 of steps 1-9 are missing (3, 4, 7, 8)" in note[0] and "step_N.json" in note[0]


def _runs_of_prompts() -> list[dict]:
    """Runs of records sharing a prompt, next to prompts of the same length that differ in one byte
    (the first, one at a word's edge, the middle, the last), empty and long prompts."""
    base = 'Solve "x" + 1 = 2\\n for x; then say why. ' * 2
    variants = [base]
    for at in (0, 7, 8, len(base) // 2, len(base) - 1):
        variants.append(base[:at] + ("#" if base[at] != "#" else "%") + base[at + 1 :])
    variants += ["", "", "y" * 300, "y" * 299 + "z", "ü" * 40]
    recs = []
    for k, p in enumerate(variants * 3):
        for r in range(1 + k % 4):  # runs of 1 to 4 rollouts
            reward = [1.0, -0.5, -1.0, 0.001][(k + r) % 4]
            recs.append({"prompt": p, "response": f'r{r} "}},\n{{"', "reward": reward, "response_length": r})
    return recs


@pytest.mark.parametrize("chunk", [64, 4096, 1 << 18])
@pytest.mark.parametrize("run_width", [16, 4096])
@pytest.mark.parametrize("long_reward", [False, True])
def test_line_reader_runs_of_prompts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, run_width: int, long_reward: bool
) -> None:
    import numpy as np

    import sample_forge.impact.formats.openrlhf as orl

    monkeypatch.setattr(orl, "_CHUNK", chunk)
    monkeypatch.setattr(orl, "_RUN_WIDTH", run_width)
    recs = _runs_of_prompts()
    if long_reward:  # a reward text longer than a word
        recs[5]["reward"] = 0.123456789
    for ascii_only in (True, False):
        data = json.dumps(recs, indent=4, ensure_ascii=ascii_only).encode()
        fast = _Reader(False)
        got = fast._by_lines(data)
        assert not isinstance(got, str), got
        full = _Reader(False)
        want = full.full(tmp_path / "step_1.json", data, last=False)
        assert [fast.ids[i] for i in got[0]] == [full.ids[i] for i in want[0]]
        assert np.asarray(got[1]).tolist() == want[1]
        assert len(fast.ids) == len(full.ids) == len({r["prompt"].strip() for r in recs})


@pytest.mark.parametrize(
    "old,new",
    [
        (b'"response_length": ', b'"response_lengtx": '),  # another key in one record
        (b'        "reward": ', b'        "rewarx": '),
        (b'",\n        "response"', b'" ,\n        "response"'),  # a space before the comma
        (b"    },\n    {", b"    }, \n    {"),
    ],
)
def test_line_reader_rejects_one_odd_record(monkeypatch: pytest.MonkeyPatch, old: bytes, new: bytes) -> None:
    import sample_forge.impact.formats.openrlhf as orl

    monkeypatch.setattr(orl, "_CHUNK", 4096)
    data = json.dumps(_runs_of_prompts(), indent=4).encode()
    at = -1
    for _ in range(40):  # the 40th occurrence: a record in the middle, past the first chunk
        at = data.find(old, at + 1)
    assert at > 4096
    odd = data[:at] + new + data[at + len(old) :]
    assert not isinstance(_Reader(False)._by_lines(data), str)
    assert isinstance(_Reader(False)._by_lines(odd), str)
