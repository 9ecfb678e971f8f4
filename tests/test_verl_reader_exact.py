"""The fast verl reader equals a full JSON parse on lines shaped exactly as verl writes them.

``RayPPOTrainer._dump_generations`` builds ``{"input", "output", "gts", "score", "step"}`` (``gts``
only in newer verl), adds every key the reward function returns, and writes
``json.dumps(entry, ensure_ascii=False)``; ``_dump`` below does the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sample_forge.impact.formats.verl import prove_fast_path, read_verl, verl_files
from sample_forge.impact.longtable import normalize_prompt, prompt_id

# what tokenizer.batch_decode(..., skip_special_tokens=True) leaves of Qwen's chat template
_DECODED = (
    "system\nYou are a helpful assistant.\nuser\n{q} Let's think step by step and output the final "
    "answer within \\boxed{{}}.\nassistant\n"
)
_PROBLEMS = [
    "What is $1+1$?",
    'Ein Würfel "fällt": wie groß ist π·r²? 求解 x。',
    "A path ends in a backslash \\",
    'She said "score": 1, then \\"left\\"',
    'Sum the list [1, 2, 3] and report {"score": 1}',
]


def _dump(path: Path, step: int, rows: list[dict], gts: bool = True) -> None:
    lines = []
    for r in rows:
        entry = {"input": r["input"], "output": r["output"]}
        if gts:
            entry["gts"] = r["gts"]
        entry["score"] = r["score"]
        entry["step"] = step
        entry.update(r.get("extra", {}))
        lines.append(json.dumps(entry, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rows(step: int, extra) -> list[dict]:
    rows = []
    for i, q in enumerate(_PROBLEMS):
        for k in range(4):
            ok = (i + k + step) % 3 == 0
            rows.append(
                {
                    "input": _DECODED.format(q=q) if i % 2 else q,
                    "output": ["ends in \\", 'quote "score": 1.0, "step": 9}', "ü ≠ u", ""][k],
                    "gts": ["2", {"score": 7, "answer": "x"}, ["a", "b"], None, 3.5][i],
                    "score": 1.0 if ok else 0.0,
                    "extra": extra(ok, i, k),
                }
            )
    return rows


EXTRAS = {
    "none": lambda ok, i, k: {},
    "dict with score": lambda ok, i, k: {"details": {"score": 0.0 if ok else 1.0, "acc": ok}},
    "list": lambda ok, i, k: {"scores": [{"score": 1 - ok}, 0.5], "acc": [ok]},
    "string with score": lambda ok, i, k: {"pred": '"score": 1, "step": 3}', "acc": float(ok)},
    "score overridden": lambda ok, i, k: {"score": 1.0 if ok else 0.0, "acc": ok},
    "nested last": lambda ok, i, k: {"acc": ok, "z": {"step": 99, "score": -1}},
}


def _full(files: list[Path]) -> list[tuple[str, float, int]]:
    out = []
    for p in files:
        for line in p.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out.append((prompt_id(normalize_prompt(row["input"])), float(row["score"]), row["step"]))
    return out


def _fast(files: list[Path]):
    t = read_verl(files, workers=1)
    ids = t.registry.ids
    got = [(ids[s], float(r), int(st)) for s, r, st in zip(t.sample, t.reward, t.step)]
    return got, t


@pytest.mark.parametrize("gts", [True, False], ids=["gts", "no gts"])
@pytest.mark.parametrize("extra", list(EXTRAS), ids=list(EXTRAS))
def test_fast_reader_equals_full_parse(tmp_path: Path, extra: str, gts: bool) -> None:
    for step in (1, 2, 3):
        _dump(tmp_path / f"{step}.jsonl", step, _rows(step, EXTRAS[extra]), gts=gts)
    files = verl_files(tmp_path)
    got, t = _fast(files)
    assert got == _full(files)
    assert not any("full JSON parser" in n for n in t.stats.notes)  # the fast path stood its proof
    assert all(prove_fast_path(p, None) is None for p in files)


def test_nested_score_does_not_flip_rewards(tmp_path: Path) -> None:
    """The issue's case: a reward extra ``{"details": {"score": …}}`` after ``step``."""
    _dump(tmp_path / "1.jsonl", 1, _rows(1, EXTRAS["dict with score"]))
    got, _ = _fast(verl_files(tmp_path))
    want = [r["score"] for r in _rows(1, EXTRAS["dict with score"])]
    assert [g[1] for g in got] == want


def test_lines_of_a_big_buffer_and_line_by_line_agree(tmp_path: Path) -> None:
    """Many lines per file take the batch path; a short unusual line forces the line-by-line one."""
    rows = _rows(1, EXTRAS["dict with score"]) * 50
    _dump(tmp_path / "1.jsonl", 1, rows)
    _dump(tmp_path / "2.jsonl", 2, rows)
    with open(tmp_path / "2.jsonl", "a", encoding="utf-8") as f:  # another key order: full parse
        f.write(json.dumps({"score": 1.0, "step": 2, "input": "odd", "output": "x"}) + "\n")
    files = verl_files(tmp_path)
    got, _ = _fast(files)
    assert got == _full(files)


def test_a_file_that_fails_its_proof_is_read_in_full(tmp_path: Path) -> None:
    """An id-keyed log whose earlier reward extra holds its own ``index`` and whose last extra holds
    its own ``score`` (so the search from the line's end does not apply): the search from the
    output would take the nested index; the sampled lines disagree, so the file is read with the
    full parser, and said so."""
    rows = []
    for i in range(40):
        rows.append(
            {
                "input": f"problem {i}",
                "output": "r",
                "gts": "1",
                "score": float(i % 2),
                "extra": {"details": {"a": 1, "index": 1000 + i}, "index": i, "z": {"a": 0, "score": 0}},
            }
        )
    _dump(tmp_path / "1.jsonl", 1, rows)
    files = verl_files(tmp_path)
    assert prove_fast_path(files[0], "index") is not None
    t = read_verl(files, workers=1)
    assert sorted(t.registry.ids) == sorted(str(i) for i in range(40))
    assert any("1.jsonl" in n and "full JSON parser" in n for n in t.stats.notes)
