"""verl ``trainer.rollout_data_dir`` dumps: ``{step}.jsonl``, one line per response.

verl writes each line with ``json.dumps(entry, ensure_ascii=False)`` and the keys in the order
``input, output, gts, score, step`` (+ extra reward keys such as ``index``). The reader needs only
``input`` (or the id key), ``score`` and ``step``, so it never parses a whole line. A quote inside a
JSON string is always escaped, so the byte patterns ``", "output": ``, ``"score": `` and
``"step": `` can only be the keys themselves: the prompt is the bytes between ``{"input": "`` and
the first ``", "output": ``; ``score`` and ``step`` are in the short tail after the last
``"score": ``. Per read buffer (16 MB) the newlines are found with NumPy and every line is handled
by C-level ``bytes.find``/``rfind`` bounded to the line inside list comprehensions: only the raw
prompt (a dict key; decoded, normalized and hashed once per distinct prompt) and the ~30-byte tail
(parsed once per distinct tail) are copied; the response is never touched. A buffer with any line
of another shape is redone line by line, and a line that still does not fit is parsed in full with
orjson, which also gives the errors their file:line. Large runs are split (by files, or
line-aligned byte ranges of big files) over two reader processes.
"""

from __future__ import annotations

import json
import math
import os
import re
from array import array
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from sample_forge.errors import InputError
from sample_forge.impact.formats.base import LogFormat, ReadOptions, SimRun
from sample_forge.impact.longtable import (
    ReadStats,
    SampleRegistry,
    Trajectory,
    normalize_prompt,
    prompt_id,
)

__all__ = ["FORMAT", "read_verl", "verl_files"]

_STEP_FILE = re.compile(r"^(\d+)\.jsonl$")
_NUM = re.compile(rb"\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity|true|false|null)")
_ID = re.compile(rb'\s*(-?\d+|"(?:[^"\\]|\\.)*")')
_HEAD = b'{"input": "'
_SEP = b'", "output": '  # can only be the end of the input string: quotes inside strings are escaped
_HEAD_NP = np.frombuffer(_HEAD, dtype=np.uint8)
_HEAD_RANGE = np.arange(len(_HEAD))
_TAIL = re.compile(rb'"score": (-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity)[,}]')
_STEP_KEY = re.compile(rb'"step": (-?\d+)[,}]')
_CHUNK = 1 << 24
_PARALLEL_MIN_BYTES = 64 << 20


def verl_files(directory: Path) -> list[Path]:
    """``{step}.jsonl`` files of a verl dump directory, by step."""
    files = [p for p in directory.iterdir() if _STEP_FILE.match(p.name) and p.is_file()]
    return sorted(files, key=lambda p: int(p.stem))


def _parse_tail(tail: bytes) -> tuple[float, int] | None:
    """(score, step) from '"score": 1.0, "step": 5, ...}', or None when it is not that shape."""
    m = _TAIL.match(tail)
    if m is None:
        return None
    score = float(m.group(1))
    if not math.isfinite(score):
        return None
    steps = _STEP_KEY.findall(tail)
    if len(steps) != 1:
        return None
    return score, int(steps[0])


def _string_end(line: bytes, start: int) -> int:
    """Index of the quote closing the JSON string that starts at ``start`` (escape-aware), or -1."""
    e = line.find(b'"', start)
    while e > 0 and line[e - 1] == 92:  # preceded by a backslash: escaped unless that one is
        b = e - 1
        while line[b - 1] == 92:
            b -= 1
        if (e - b) % 2 == 0:
            break
        e = line.find(b'"', e + 1)
    return e


def _loads_lenient(line: bytes) -> Any:
    """orjson, or Python's json for NaN/Infinity (Python's json.dumps writes them): a NaN reward
    must be reported as a NaN reward, not as a malformed line."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        import json

        try:
            return json.loads(line)
        except (ValueError, UnicodeDecodeError):
            pass
        raise


class _Shard:
    """State of one reader process: its own sample table and columns."""

    def __init__(self, id_key: str | None, skip_bad: bool) -> None:
        self.id_key = id_key
        self.id_pat = f'"{id_key}":'.encode() if id_key else None
        self.skip_bad = skip_bad
        self.cache: dict[bytes, int] = {}  # raw (still JSON-escaped) input or id -> local index
        self.ids: list[str] = []
        self.texts: list[str | None] = []
        self.by_id: dict[str, int] = {}
        self.sample = array("i")
        self.step = array("q")
        self.reward = array("d")
        self.stats = ReadStats()
        self.tail_code: dict[bytes, int] = {}  # distinct line tails -> row of tail_values
        self.tail_values: list[tuple[float, int]] = []

    # -- one distinct sample ------------------------------------------------------------------
    def _local(self, sid: str, text: str | None) -> int:
        i = self.by_id.get(sid)
        if i is None:
            i = self.by_id[sid] = len(self.ids)
            self.ids.append(sid)
            self.texts.append(text)
        return i

    def _new_prompt(self, raw: bytes) -> int:
        text = orjson.loads(b'"' + raw + b'"')
        norm = normalize_prompt(text)
        i = self._local(prompt_id(norm), norm)
        self.cache[raw] = i
        return i

    def _new_id(self, raw: bytes, line: bytes) -> int:
        sid = orjson.loads(raw)
        e = _string_end(line, 11)
        text = normalize_prompt(orjson.loads(line[10 : e + 1])) if e > 0 else None
        i = self._local(str(sid), text)
        self.cache[raw] = i
        return i

    # -- lines --------------------------------------------------------------------------------
    def lines(self, lines: Sequence[bytes], path: str, where: _Where, final_open: bool) -> None:
        """Parse ``lines``; ``final_open``: the last one had no newline (a run still writing)."""
        self._one_by_one(lines, path, where, final_open)

    def buffer(self, buf: bytes, starts: list[int], ends: list[int], path: str, where: _Where) -> None:
        """The complete lines ``buf[starts[k]:ends[k]]`` of a read buffer."""
        if not self._batch(buf, starts, ends):
            self._one_by_one([buf[a:b] for a, b in zip(starts, ends)], path, where, False)

    def _learn_tails(self, tails: Iterable[bytes]) -> bool:
        """Give each new ``"score": …}`` tail a code; False when one is not a plain tail."""
        tcode = self.tail_code
        for t in tails:
            if t not in tcode:
                parsed = _parse_tail(t)
                if parsed is None:
                    return False
                tcode[t] = len(self.tail_values)
                self.tail_values.append(parsed)
        return True

    def _batch(self, buf: bytes, starts: list[int], ends: list[int]) -> bool:
        """All lines at once, with C-level bytes methods bounded to each line (nothing but the
        prompt key and the ~30-byte tail of a line is ever copied) in list comprehensions.
        All or nothing: False (nothing recorded) when any line is not verl's shape."""
        if not starts:
            return True
        arr = np.frombuffer(buf, dtype=np.uint8)
        s_np, e_np = np.asarray(starts), np.asarray(ends)
        if (
            (e_np - s_np < len(_HEAD) + 2).any()
            or (arr[e_np - 1] != 125).any()
            or (arr[s_np[:, None] + _HEAD_RANGE] != _HEAD_NP).any()
        ):
            return False
        rfind = buf.rfind
        # '"score": 1.0, "step": 5}': few distinct tails, each parsed once
        tcode = self.tail_code
        get_code = tcode.get
        # a new step file brings new tails: learn them from both ends of the buffer first
        if not self._learn_tails(
            buf[rfind(b'"score": ', a, b) : b]
            for a, b in zip(starts[:32] + starts[-32:], ends[:32] + ends[-32:])
        ):
            return False
        codes = [get_code(buf[rfind(b'"score": ', a, b) : b], -1) for a, b in zip(starts, ends)]
        if min(codes) < 0:
            tails = [buf[rfind(b'"score": ', a, b) : b] for a, b in zip(starts, ends)]
            if not self._learn_tails(set(tails)):
                return False
            codes = [get_code(t) for t in tails]
            del tails
        if self.id_pat is None:
            find = buf.find
            get = self.cache.get
            # a line without the separator gives a key that is never in the cache (a miss below)
            idx = [get(buf[a + 11 : find(_SEP, a, b)], -1) for a, b in zip(starts, ends)]
        else:
            pat = self.id_pat
            n = len(pat)
            ids = [buf[rfind(pat, a, b) : b] for a, b in zip(starts, ends)]
            keys = [v[n : v.find(b",")].strip() if v.startswith(pat) else b"" for v in ids]
            if not all(
                [
                    k.isdigit() or (k[:1] == b'"' and k[-1:] == b'"' and len(k) > 1 and k[-2:-1] != b"\\")
                    for k in keys
                ]
            ):
                return False
            get = self.cache.get
            idx = [get(k, -1) for k in keys]
        if min(idx) < 0:
            try:
                for j, i in enumerate(idx):
                    if i < 0:
                        a = starts[j]
                        if self.id_pat is None:
                            q = buf.find(_SEP, a, ends[j])
                            if q < 0:
                                return False
                            k = buf[a + 11 : q]
                        else:
                            k = keys[j]
                        i = self.cache.get(k, -1)
                        if i < 0:
                            i = (
                                self._new_prompt(k)
                                if self.id_pat is None
                                else self._new_id(k, buf[a : ends[j]])
                            )
                        idx[j] = i
            except ValueError:
                return False
        values = np.asarray(self.tail_values, dtype=np.float64)[np.asarray(codes)]
        self.sample.extend(array("i", idx))
        self.step.extend(array("q", values[:, 1].astype(np.int64).tobytes()))
        self.reward.extend(array("d", values[:, 0].tobytes()))
        self.stats.rows += len(starts)
        return True

    def _one_by_one(self, lines: Sequence[bytes], path: str, where: _Where, final_open: bool) -> None:
        """Line by line: the shape of each line is checked, anything unusual goes to ``_slow``."""
        cache_get = self.cache.get
        s_app, t_app, r_app = self.sample.append, self.step.append, self.reward.append
        num = _NUM.match
        id_pat = self.id_pat
        last = len(lines) - 1
        for n, line in enumerate(lines):
            if line.startswith(_HEAD) and line.endswith(b"}"):
                j = line.rfind(b'"score":')
                k = line.rfind(b'"step":')
                ms = num(line, j + 8) if j > 0 else None
                mt = num(line, k + 7) if k > 0 else None
                i = None
                if id_pat is None:
                    e = _string_end(line, 11)
                    if e > 0 and j > e and k > e:
                        raw = line[11:e]
                        i = cache_get(raw)
                        if i is None:
                            try:
                                i = self._new_prompt(raw)
                            except ValueError:
                                i = None
                else:
                    q = line.rfind(id_pat)
                    mi = _ID.match(line, q + len(id_pat)) if q > 0 else None
                    if mi is not None:
                        raw = mi.group(1)
                        i = cache_get(raw)
                        if i is None:
                            try:
                                i = self._new_id(raw, line)
                            except ValueError:
                                i = None
                if i is not None and ms is not None and mt is not None:
                    try:
                        r = float(ms.group(1))
                        t = int(mt.group(1))
                    except ValueError:
                        pass
                    else:
                        if r == r and r not in (math.inf, -math.inf):
                            s_app(i)
                            t_app(t)
                            r_app(r)
                            continue
            if not line.strip():
                continue
            self._slow(line, path, where, n, final_open and n == last)
        self.stats.rows += len(lines)

    def _slow(self, line: bytes, path: str, where: _Where, n: int, may_be_truncated: bool) -> None:
        try:
            row = _loads_lenient(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
        except (orjson.JSONDecodeError, ValueError) as e:
            lineno = where.line(n)
            if may_be_truncated:
                self.stats.truncated.append(f"{path}:{lineno}")
                return
            if self.skip_bad:
                self.stats.bad_lines.append(f"{path}:{lineno}: malformed JSON")
                return
            raise InputError(f"malformed JSON line ({e})", path=path, line=lineno) from None
        key = self.id_key
        missing = [f for f in (key or "input", "score", "step") if f not in row]
        if missing:
            if self.skip_bad:
                self.stats.bad_lines.append(f"{path}:{where.line(n)}: missing {missing[0]}")
                return
            raise InputError(
                "missing key in a verl dump line", path=path, line=where.line(n), field=missing[0]
            )
        score = row["score"]
        if isinstance(score, bool):
            score = float(score)
        if not isinstance(score, (int, float)) or not math.isfinite(score):
            raise InputError(
                f"reward is not a finite number ({score!r})", path=path, line=where.line(n), field="score"
            )
        step = row["step"]
        if not isinstance(step, int) or isinstance(step, bool):
            raise InputError(
                f"step is not an integer ({step!r})", path=path, line=where.line(n), field="step"
            )
        if key:
            text = row.get("input")
            i = self._local(str(row[key]), normalize_prompt(text) if isinstance(text, str) else None)
        else:
            if not isinstance(row["input"], str):
                raise InputError("input is not a string", path=path, line=where.line(n), field="input")
            norm = normalize_prompt(row["input"])
            i = self._local(prompt_id(norm), norm)
        self.sample.append(i)
        self.step.append(step)
        self.reward.append(float(score))

    def result(self) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "texts": self.texts,
            "sample": self.sample.tobytes(),
            "step": self.step.tobytes(),
            "reward": self.reward.tobytes(),
            "stats": self.stats,
        }


class _Where:
    """Line numbers, counted only when an error needs one (counting newlines is not free)."""

    def __init__(self, path: str, start: int) -> None:
        self.path, self.start = path, start
        self.base: int | None = None  # lines before ``start``
        self.chunk_first = 0  # lines of this range before the current chunk

    def line(self, n: int) -> int:
        if self.base is None:
            self.base = 0
            if self.start:
                with open(self.path, "rb") as f:
                    left = self.start
                    while left:
                        buf = f.read(min(_CHUNK, left))
                        left -= len(buf)
                        self.base += buf.count(b"\n")
        return self.base + self.chunk_first + n + 1


def _read_range(shard: _Shard, path: str, start: int, end: int, size: int) -> None:
    where = _Where(path, start)
    carry = b""
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            buf = f.read(min(_CHUNK, left))
            if not buf:
                break
            left -= len(buf)
            shard.stats.bytes += len(buf)
            nl = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
            if not len(nl):
                carry += buf
                continue
            starts = np.concatenate(([0], nl[:-1] + 1)).tolist()
            ends = nl.tolist()
            if carry:  # the line that crosses the previous read
                shard.lines([carry + buf[: ends[0]]], path, where, False)
                where.chunk_first += 1
                starts, ends = starts[1:], ends[1:]
            shard.buffer(buf, starts, ends, path, where)
            where.chunk_first += len(starts)
            carry = buf[int(nl[-1]) + 1 :]
    if carry:
        shard.lines([carry], path, where, end >= size)


def _plan(files: list[Path], workers: int) -> list[list[tuple[str, int, int, int]]]:
    """Split the files into ``workers`` shards of about equal bytes; big files by line-aligned ranges."""
    sizes = [(str(p), p.stat().st_size) for p in files]
    total = sum(s for _, s in sizes)
    if workers <= 1 or total < _PARALLEL_MIN_BYTES:
        return [[(p, 0, s, s) for p, s in sizes]]
    target = total / workers
    pieces: list[tuple[str, int, int, int]] = []
    for p, s in sizes:
        if s <= target / 2:
            pieces.append((p, 0, s, s))
            continue
        n = max(1, round(s / (target / 2)))
        with open(p, "rb") as f:
            start = 0
            for k in range(1, n + 1):
                if k == n:
                    cut = s
                else:
                    f.seek(int(s * k / n))
                    f.readline()
                    cut = min(f.tell(), s)
                if cut > start:
                    pieces.append((p, start, cut, s))
                start = cut
    shards: list[list[tuple[str, int, int, int]]] = [[] for _ in range(workers)]
    load = [0] * workers
    done = 0
    for piece in pieces:  # contiguous runs keep each shard's reads sequential
        w = min(int(done / target), workers - 1)
        shards[w].append(piece)
        load[w] += piece[2] - piece[1]
        done += piece[2] - piece[1]
    return [s for s in shards if s]


def _run_shard(pieces: list[tuple[str, int, int, int]], id_key: str | None, skip_bad: bool) -> dict[str, Any]:
    shard = _Shard(id_key, skip_bad)
    try:
        for path, start, end, size in pieces:
            _read_range(shard, path, start, end, size)
            if start == 0:
                shard.stats.files += 1
    except InputError as e:  # exceptions with keyword fields do not survive pickling as such
        return {"error": (str(e.args[0]) if e.args else str(e))}
    return shard.result()


def _id_key(first: Path) -> str | None:
    with open(first, "rb") as f:
        line = f.readline()
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return "index" if isinstance(row, dict) and "index" in row else None


def read_verl(
    files: list[Path],
    *,
    skip_bad_lines: bool = False,
    workers: int | None = None,
    id_key: str | None = "auto",
) -> Trajectory:
    """Read verl ``{step}.jsonl`` dumps. ``id_key``: "auto" uses ``index`` when lines have it."""
    if not files:
        raise InputError("no verl {step}.jsonl files")
    if id_key == "auto":
        id_key = _id_key(files[0])
    workers = workers or min(2, os.cpu_count() or 1)
    plan = _plan(files, workers)
    if len(plan) == 1:
        results = [_run_shard(plan[0], id_key, skip_bad_lines)]
    else:
        import multiprocessing as mp
        import threading

        # fork is cheapest, but forking a process that runs other threads can deadlock the child
        fork_ok = "fork" in mp.get_all_start_methods() and threading.active_count() == 1
        ctx = mp.get_context("fork" if fork_ok else "spawn")
        with ProcessPoolExecutor(max_workers=len(plan), mp_context=ctx) as ex:
            results = list(ex.map(_run_shard, plan, [id_key] * len(plan), [skip_bad_lines] * len(plan)))
    for r in results:
        if "error" in r:
            raise InputError(r["error"])
    return merge_shards("verl", results, keyed_by="id" if id_key else "prompt")


def merge_shards(fmt: str, results: list[dict[str, Any]], *, keyed_by: str) -> Trajectory:
    reg = SampleRegistry(keyed_by=keyed_by)
    stats = ReadStats()
    samples, steps, rewards = [], [], []
    for r in results:
        remap = np.array([reg.add(sid, text) for sid, text in zip(r["ids"], r["texts"])], dtype=np.int32)
        local = np.frombuffer(r["sample"], dtype=np.int32)
        samples.append(remap[local] if len(local) else local)
        steps.append(np.frombuffer(r["step"], dtype=np.int64))
        rewards.append(np.frombuffer(r["reward"], dtype=np.float64))
        stats.merge(r["stats"])

    def cat(xs, dt):
        return np.concatenate(xs) if xs else np.zeros(0, dt)

    return Trajectory(
        format=fmt,
        registry=reg,
        sample=cat(samples, np.int32),
        step=cat(steps, np.int64),
        reward=cat(rewards, np.float64),
        stats=stats,
    )


def _matches(path: Path) -> bool:
    return bool(_STEP_FILE.match(path.name)) and path.is_file()


def _read(files: list[Path], opts: ReadOptions) -> Trajectory:
    return read_verl(files, skip_bad_lines=opts.skip_bad_lines, workers=opts.workers)


def _write(out: Path, run: SimRun) -> tuple[int, int]:
    """verl's own line layout (``json.dumps`` key order), built from bytes: runs of GBs stay quick."""
    prompts = [json.dumps(run.prompt(i), ensure_ascii=False).encode() for i in range(len(run.problems))]
    gts = [json.dumps(p["answer"], ensure_ascii=False).encode() for p in run.problems]
    resp = run.responses
    lines = nbytes = 0
    for s, items in run.by_step.items():
        buf = bytearray()
        for i, e in items:
            for ok in run.rollouts_of(i, e):
                buf += b'{"input": ' + prompts[i] + b', "output": ' + resp.json[resp.next()]
                buf += b', "gts": ' + gts[i] + (b', "score": 1.0' if ok else b', "score": 0.0')
                buf += b', "step": ' + str(s).encode()
                if run.with_ids:
                    buf += b', "index": ' + str(i).encode()
                buf += b"}\n"
                lines += 1
        (out / f"{s}.jsonl").write_bytes(bytes(buf))
        nbytes += len(buf)
    return lines, nbytes


FORMAT = LogFormat(
    name="verl",
    trainer="verl",
    pattern="{step}.jsonl",
    files=verl_files,
    matches=_matches,
    read=_read,
    write=_write,
    default_correct="score>0",
)
