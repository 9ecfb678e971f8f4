"""Which fast path reads a file: the quickest one that applies, and always what a full parse reads.

verl: the search from the line's end (the last ``, "score": `` closing the line's own object)
unless a nested ``score`` comes after the top-level one. OpenRLHF/LIMR: the line-offset reader
for one-key-per-line layouts (``json.dump(indent=N)``), the key search for any other.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sample_forge.impact.formats.openrlhf import _Reader, read_openrlhf
from sample_forge.impact.formats.verl import _read_range, _Shard, read_verl


def _verl_line(i: int, step: int, extra: dict) -> str:
    entry = {"input": f"problem {i} \\", "output": 'say "score": 1, "step": 9}', "gts": {"score": 3}}
    entry.update(score=float(i % 2), step=step, **extra)
    return json.dumps(entry, ensure_ascii=False)


@pytest.mark.parametrize(
    "extra, backward",
    [
        ({}, True),
        ({"details": {"score": 0.5}, "pred": '"score": 1}'}, True),
        ({"index": 7, "acc": [{"score": 1}]}, True),
        ({"z": {"a": 1, "score": -1}}, False),  # a nested score after the top-level one
    ],
)
def test_verl_search_from_the_end(tmp_path: Path, extra: dict, backward: bool) -> None:
    p = tmp_path / "1.jsonl"
    p.write_text("\n".join(_verl_line(i, 1, extra) for i in range(30)) + "\n", encoding="utf-8")
    shard = _Shard(None, skip_bad=False)
    _read_range(shard, str(p), 0, p.stat().st_size, p.stat().st_size)
    assert shard.backward is backward
    assert list(shard.reward) == [float(i % 2) for i in range(30)]
    t = read_verl([p], workers=1, id_key=None)
    assert not t.stats.notes
    want = [json.loads(line)["score"] for line in p.read_text(encoding="utf-8").splitlines()]
    assert t.reward.tolist() == want


def test_verl_id_from_the_end(tmp_path: Path) -> None:
    p = tmp_path / "3.jsonl"
    lines = [_verl_line(i, 3, {"details": {"index": -1}, "index": i * 10}) for i in range(20)]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = read_verl([p], workers=1)
    assert [t.registry.ids[s] for s in t.sample] == [str(i * 10) for i in range(20)]
    assert not t.stats.notes


def _limr(recs: list[dict], **kw) -> bytes:
    return json.dumps(recs, indent=4, **kw).encode()


_RECS = [
    {"prompt": p, "response": r, "reward": w, "response_length": 3}
    for p, r, w in [
        ("", "x", 1.0),
        ("ends in \\", 'a "quote", and\n"reward": 5,', -0.5),
        ("ünï π", "", -1),
        ('"quoted"', "\\", 1e-3),
    ]
]


@pytest.mark.parametrize("trailing", ["", "\n", "\n\n  "])
def test_limr_lines_reader(tmp_path: Path, trailing: str) -> None:
    data = _limr(_RECS) + trailing.encode()
    got = _Reader(False)._by_lines(data)
    assert not isinstance(got, str), got
    full = _Reader(False)
    want = full.full(tmp_path / "step_1.json", data, last=False)
    reader = _Reader(False)
    idx, vals = reader._by_lines(data)
    assert [reader.ids[i] for i in idx] == [full.ids[i] for i in want[0]]
    assert np.asarray(vals).tolist() == want[1]


def test_limr_reward_last_and_other_layouts(tmp_path: Path) -> None:
    last = [{"prompt": r["prompt"], "response": r["response"], "reward": r["reward"]} for r in _RECS]
    assert not isinstance(_Reader(False)._by_lines(_limr(last)), str)
    as_list = [{**r, "reward": [r["reward"]]} for r in _RECS]  # a list spans lines: not this reader
    assert isinstance(_Reader(False)._by_lines(_limr(as_list)), str)
    p = tmp_path / "step_1.json"
    p.write_bytes(_limr(as_list))
    t = read_openrlhf([p], workers=1)
    assert t.reward.tolist() == [r["reward"] for r in _RECS] and not t.stats.notes
