"""verl ``trainer.rollout_data_dir`` dumps: ``{step}.jsonl``, one line per response.

verl's ``RayPPOTrainer._dump_generations`` writes each line with ``json.dumps(entry,
ensure_ascii=False)`` and the keys in the order ``input, output, gts, score, step`` (``gts`` only in
newer versions), then every key the reward function returns (``acc``, ``pred``, dicts, lists, an
``index``...). The reader needs only ``input`` (or the id key), ``score`` and ``step``, so it never
parses a whole line. A quote inside a JSON string is always escaped, so ``", "output": `` can only be
the end of the ``input`` string, and ``"score"`` only a key. ``score`` and ``step`` are first
sought from the end of the line: the last ``, "score": `` is the top-level one when the rest of the
line closes exactly one object (parsed once per distinct rest), a search that never walks the
response. In a file with a nested ``score`` after the top-level one, the first ``", "`` after the
output's opening quote closes the output, and ``score`` and ``step`` are the first ``, "score": ``
after it: whatever stands between (``gts``) is checked once per distinct value to be whole
top-level values, so a ``"score"`` nested in ``gts`` or in a reward extra is never taken for the
reward. Per read buffer (16 MB) the newlines are found with
NumPy and every line is handled by C-level ``bytes.find`` bounded to the line inside list
comprehensions: only the raw prompt (a dict key; decoded, normalized and hashed once per distinct
prompt), the ``gts`` bytes and the ``score``/``step`` segment (parsed once per distinct segment) are
copied; the response is never touched. A buffer with any line of another shape is redone line by
line, and a line that still does not fit is parsed in full with orjson, which also gives the errors
their file:line.

Each file proves the fast path first (in the reader process that reads it): its first and last lines
and 16 seeded random ones are read both ways and compared; a file where they differ is read with the full parser, and a note says so.
Large runs are split (by files, or line-aligned byte ranges of big files) over two reader processes.
"""

from __future__ import annotations

import functools
import json
import math
import mmap
import os
import random
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from sample_forge.errors import InputError
from sample_forge.impact.formats.base import LogFormat, ReadOptions, SimRun
from sample_forge.impact.longtable import Trajectory, normalize_prompt, prompt_id
from sample_forge.impact.shards import Shard, error_result, in_processes, merge_shards, string_end
from sample_forge.impact.step_gaps import step_gap_note

__all__ = ["FORMAT", "read_verl", "verl_files", "prove_fast_path"]

_STEP_FILE = re.compile(r"^(\d+)\.jsonl$")
_ID = re.compile(rb'\s*(-?\d+|"(?:[^"\\]|\\.)*")')
_HEAD = b'{"input": "'
_SEP = b'", "output": '  # can only be the end of the input string: quotes inside strings are escaped
_HEAD_NP = np.frombuffer(_HEAD, dtype=np.uint8)
_HEAD_RANGE = np.arange(len(_HEAD))
_OUT_END = b'", "'  # the first one after the output's opening quote closes the output string
_SCORE = b', "score": '
# the score/step segment right after the top-level score key; group 1 score, group 2 step
_SEG = re.compile(
    rb', "score": (-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity), "step": (-?\d+)(?=[,}])'
)
_MAX_TAILS = 1 << 18
_PROOF_LINES = 16  # random lines per file, besides the first and the last
_CHUNK = 1 << 24
_PARALLEL_MIN_BYTES = 64 << 20


def verl_files(directory: Path) -> list[Path]:
    """``{step}.jsonl`` files of a verl dump directory, by step."""
    files = [p for p in directory.iterdir() if _STEP_FILE.match(p.name) and p.is_file()]
    return sorted(files, key=lambda p: int(p.stem))


@functools.lru_cache(maxsize=1 << 12)
def _text_id(text: str) -> tuple[str, str]:
    """(sample id, normalized prompt) of a raw prompt; the proof asks three times per line."""
    norm = normalize_prompt(text)
    return prompt_id(norm), norm


def _parse_segment(seg: bytes) -> tuple[float, int] | None:
    """(score, step) from ', "score": 1.0, "step": 5', or None when the score is not finite."""
    m = _SEG.match(seg + b"}")  # the segment stops before the character that ends the step
    if m is None:
        return None
    score = float(m.group(1))
    if not math.isfinite(score):
        return None
    return score, int(m.group(2))


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


class _Shard(Shard):
    """State of one reader process: its own sample table and columns."""

    def __init__(self, id_key: str | None, skip_bad: bool) -> None:
        super().__init__(skip_bad)
        self.id_key = id_key
        self.id_pat = f', "{id_key}": '.encode() if id_key else None
        self.cache: dict[bytes, int] = {}  # raw (still JSON-escaped) input or id -> local index
        self.tail_code: dict[bytes, int] = {}  # distinct score/step segments -> row of tail_values
        self.tail_values: list[tuple[float, int]] = []
        self.between: set[bytes] = set()  # distinct "gts": … runs checked to be whole values
        self.full = False  # read every line with the full parser (a file that failed its proof)
        # runs from the last ', "score": ' of a line to its end -> row of back_values / back_ids
        self.back_code: dict[bytes, int] = {}
        self.back_values: list[tuple[float, int]] = []
        self.back_ids: list[bytes | None] = []
        self.backward = True  # the last "score" of this file's lines is the top-level one

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
        i = self._local(*_text_id(text))
        self.cache[raw] = i
        return i

    def _new_id(self, raw: bytes, line: bytes) -> int:
        sid = orjson.loads(raw)
        e = string_end(line, 11)
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
        if self.full or not self._batch(buf, starts, ends):
            self._one_by_one([buf[a:b] for a, b in zip(starts, ends)], path, where, False)

    def _learn_segments(self, segs: Iterable[bytes]) -> bool:
        """Give each new score/step segment a code; False when one is not a finite score."""
        tcode = self.tail_code
        for t in segs:
            if t not in tcode:
                parsed = _parse_segment(t)
                if parsed is None:
                    return False
                tcode[t] = len(self.tail_values)
                self.tail_values.append(parsed)
        return True

    def _between_ok(self, between: Iterable[bytes]) -> bool:
        """The keys between the output and ``score`` (``"gts": …``) are whole top-level values.
        A container there could hold its own ``, "score": ``; each distinct run is parsed once."""
        ok = self.between
        for x in between:
            if x not in ok:
                try:
                    if not isinstance(orjson.loads(b"{" + x + b"}"), dict):
                        return False
                except orjson.JSONDecodeError:
                    return False
                ok.add(x)
        return True

    def fields(self, line: bytes) -> tuple[bytes, tuple[float, int]] | None:
        """(prompt or id bytes, (score, step)) of one line by the top-level layout, or None."""
        if not (line.startswith(_HEAD) and line.endswith(b"}")):
            return None
        o = line.find(_SEP)
        s = line.rfind(_SCORE)
        if o > 0 and s > o and self._learn_tails((line[s:],)):
            c = self.back_code[line[s:]]
            key = line[11:o] if self.id_pat is None else self.back_ids[c]
            return key, self.back_values[c]  # type: ignore[return-value]
        if o < 0 or line[o + 13 : o + 14] != b'"':
            return None
        k = line.find(_OUT_END, o + 14)
        if k < 0:
            return None
        s = line.find(_SCORE, k + 1)
        if s < 0 or (s > k + 1 and not self._between_ok((line[k + 3 : s],))):
            return None
        m = _SEG.match(line, s)
        if m is None:
            return None
        seg = m.group()
        if not self._learn_segments((seg,)):
            return None
        if self.id_pat is None:
            key = line[11:o]
        else:
            q = line.find(self.id_pat, m.end())
            mi = _ID.match(line, q + len(self.id_pat)) if q > 0 else None
            if mi is None:
                return None
            key = mi.group(1)
        return key, self.tail_values[self.tail_code[seg]]

    def _batch(self, buf: bytes, starts: list[int], ends: list[int]) -> bool:
        """All lines at once, with C-level bytes methods bounded to each line (nothing but the
        prompt key and a short run of the line is ever copied) in list comprehensions. All or
        nothing: False (nothing recorded) when any line is not verl's shape."""
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
        if self.backward:
            got = self._from_the_end(buf, starts, ends)
            if got is not None:
                return self._record(buf, starts, ends, *got)
            self.backward = False  # this file has a nested "score" after the top-level one
        return self._from_the_output(buf, starts, ends, arr)

    def _tail(self, t: bytes) -> tuple[float, int, bytes | None] | None:
        """(score, step, raw id) of the run from the last ``, "score": `` of a line to its end,
        or None unless that ``score`` is a key of the line's own object. ``"score"`` with its
        quotes unescaped is always a key (quotes inside strings are escaped), and the run
        closes exactly as many objects as that key is deep, so it completes ``{"_": 0`` to one
        whole JSON object only when the key is at the top level. Each distinct run is parsed
        once."""
        try:
            row = orjson.loads(b'{"_": 0' + t)
        except orjson.JSONDecodeError:
            return None
        score, step = row.get("score"), row.get("step")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            return None
        if isinstance(step, bool) or not isinstance(step, int):
            return None
        if self.id_key is None:
            return float(score), step, None
        sid = row.get(self.id_key)
        if isinstance(sid, bool) or not isinstance(sid, (int, str)):
            return None
        return float(score), step, orjson.dumps(sid)

    def _learn_tails(self, tails: Iterable[bytes]) -> bool:
        code, values, ids = self.back_code, self.back_values, self.back_ids
        for t in tails:
            if t not in code:
                got = self._tail(t)
                if got is None:
                    return False
                code[t] = len(values)
                values.append(got[:2])
                ids.append(got[2])
        return True

    def _from_the_end(
        self, buf: bytes, starts: list[int], ends: list[int]
    ) -> tuple[list[int], Callable[[int], bytes], np.ndarray] | None:
        """(sample or -1, the key of line j, (score, step) rows) of every line from its last
        ``, "score": `` (a search
        from the line's end, which never walks the response), or None when one is not at the
        top level."""
        if len(self.back_code) > _MAX_TAILS:  # reward extras unique to each line: bound the memory
            self.back_code.clear()
            self.back_values.clear()
            self.back_ids.clear()
        rfind = buf.rfind
        get_code = self.back_code.get
        # a new step file brings new runs (its step): learn them from both ends of the buffer first
        ends_ = zip(starts[:32] + starts[-32:], ends[:32] + ends[-32:])
        if not self._learn_tails({buf[rfind(_SCORE, a, b) : b] for a, b in ends_}):
            return None
        codes = [get_code(buf[rfind(_SCORE, a, b) : b], -1) for a, b in zip(starts, ends)]
        if min(codes) < 0:
            tails = [buf[rfind(_SCORE, a, b) : b] for a, b in zip(starts, ends)]
            if not self._learn_tails(set(tails)):
                return None
            codes = [get_code(t) for t in tails]
            del tails
        values = np.asarray(self.back_values, dtype=np.float64)[np.asarray(codes)]
        get = self.cache.get
        if self.id_pat is None:
            find = buf.find
            # the sample of each line without keeping its key (a new prompt slices it again); a
            # line without the separator (-1 % (b + 1) == b) gives a key that cannot be decoded
            idx = [get(buf[a + 11 : find(_SEP, a, b) % (b + 1)], -1) for a, b in zip(starts, ends)]
            return (
                idx,
                (lambda j: buf[starts[j] + 11 : find(_SEP, starts[j], ends[j]) % (ends[j] + 1)]),
                values,
            )
        ids = self.back_ids
        keys = [ids[c] for c in codes]
        return [get(k, -1) for k in keys], keys.__getitem__, values

    def _from_the_output(self, buf: bytes, starts: list[int], ends: list[int], arr: np.ndarray) -> bool:
        """The first ``", "`` after the output's opening quote closes the output; the
        top-level ``score`` and ``step`` follow it."""
        find = buf.find
        seps = [find(_SEP, a, b) for a, b in zip(starts, ends)]
        if min(seps) < 0:
            return False
        o_np = np.asarray(seps)
        if (arr[o_np + 13] != 34).any():  # the output is a string
            return False
        outs = [find(_OUT_END, o + 14, b) for o, b in zip(seps, ends)]
        if min(outs) < 0:
            return False
        scs = [find(_SCORE, k + 1, b) for k, b in zip(outs, ends)]
        if min(scs) < 0:
            return False
        if (np.asarray(scs) > np.asarray(outs) + 1).any() and not self._between_ok(
            {buf[k + 3 : s] for k, s in zip(outs, scs) if s > k + 1}
        ):
            return False
        match = _SEG.match
        ms = [match(buf, s, b) for s, b in zip(scs, ends)]
        if None in ms:
            return False
        get_code = self.tail_code.get
        codes = [get_code(m.group(), -1) for m in ms]
        if min(codes) < 0:
            if not self._learn_segments({m.group() for m in ms}):
                return False
            codes = [get_code(m.group()) for m in ms]
        if self.id_pat is None:
            keys = [buf[a + 11 : o] for a, o in zip(starts, seps)]
        else:
            pat = self.id_pat
            n = len(pat)
            qs = [find(pat, m.end(), b) for m, b in zip(ms, ends)]
            if min(qs) < 0:
                return False
            idm = _ID.match
            mis = [idm(buf, q + n, b) for q, b in zip(qs, ends)]
            if None in mis:
                return False
            keys = [mi.group(1) for mi in mis]
        values = np.asarray(self.tail_values, dtype=np.float64)[np.asarray(codes)]
        get = self.cache.get
        return self._record(buf, starts, ends, [get(k, -1) for k in keys], keys.__getitem__, values)

    def _record(
        self,
        buf: bytes,
        starts: list[int],
        ends: list[int],
        idx: list[int],
        key_of: Callable[[int], bytes],
        values: np.ndarray,
    ) -> bool:
        """Append the lines: their samples (-1: not seen yet; ``key_of(j)`` is line j's raw
        prompt or id) and (score, step) rows."""
        if min(idx) < 0:
            try:
                for j, i in enumerate(idx):
                    if i < 0:
                        k = key_of(j)
                        i = self.cache.get(k, -1)
                        if i < 0:
                            i = (
                                self._new_prompt(k)
                                if self.id_pat is None
                                else self._new_id(k, buf[starts[j] : ends[j]])
                            )
                        idx[j] = i
            except ValueError:
                return False
        self.sample.extend(array("i", idx))
        self.step.extend(array("q", values[:, 1].astype(np.int64).tobytes()))
        self.reward.extend(array("d", values[:, 0].tobytes()))
        self.stats.rows += len(starts)
        return True

    def _one_by_one(self, lines: Sequence[bytes], path: str, where: _Where, final_open: bool) -> None:
        """Line by line: the shape of each line is checked, anything unusual goes to ``_slow``."""
        cache_get = self.cache.get
        s_app, t_app, r_app = self.sample.append, self.step.append, self.reward.append
        last = len(lines) - 1
        for n, line in enumerate(lines):
            got = None if self.full else self.fields(line)
            if got is not None:
                key, (r, t) = got
                i = cache_get(key)
                if i is None:
                    try:
                        i = self._new_prompt(key) if self.id_pat is None else self._new_id(key, line)
                    except ValueError:
                        i = None
                if i is not None:
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
            i = self._local(*_text_id(row["input"]))
        self.sample.append(i)
        self.step.append(step)
        self.reward.append(float(score))


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


def _newlines(buf: bytes | mmap.mmap, lo: int = 0) -> list[int]:
    """Offsets of the newlines in ``buf`` from ``lo``: one memchr-backed ``find`` per line, which
    for lines of hundreds of bytes and more costs less than NumPy's compare-and-nonzero over
    every byte."""
    out: list[int] = []
    add, find = out.append, buf.find
    i = find(b"\n", lo)
    while i >= 0:
        add(i)
        i = find(b"\n", i + 1)
    return out


def _windows(f: Any, start: int, end: int) -> Iterator[tuple[bytes | mmap.mmap, int]]:
    """``[start, end)`` of an open file as read-only maps of about ``_CHUNK`` bytes (the page
    cache itself: no copy of what is never sliced), each with the offset in it of the range's next
    byte; plain reads where the file cannot be mapped."""
    gran = mmap.ALLOCATIONGRANULARITY
    end = min(end, os.fstat(f.fileno()).st_size)  # never map past the end (a shrunk file: SIGBUS)
    pos = start
    while pos < end:
        off = pos - pos % gran
        n = min(end, pos + _CHUNK) - off  # always past pos, whatever the granularity
        try:
            m: Any = mmap.mmap(f.fileno(), n, offset=off, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            f.seek(pos)
            data = f.read(min(_CHUNK, end - pos))
            if not data:
                return
            yield data, 0
            pos += len(data)
            continue
        yield m, pos - off
        pos = off + n
        try:
            m.close()
        except BufferError:  # a NumPy view still alive: unmapped when it goes
            pass


def _read_range(shard: _Shard, path: str, start: int, end: int, size: int) -> None:
    where = _Where(path, start)
    carry = b""
    with open(path, "rb") as f:
        for buf, lo in _windows(f, start, end):
            shard.stats.bytes += len(buf) - lo
            ends = _newlines(buf, lo)
            if not ends:
                carry += buf[lo:]
                continue
            last = ends[-1]
            starts = [lo]
            starts += [e + 1 for e in ends[:-1]]
            if carry:  # the line that crosses the previous window
                shard.lines([carry + buf[lo : ends[0]]], path, where, False)
                where.chunk_first += 1
                starts, ends = starts[1:], ends[1:]
            shard.buffer(buf, starts, ends, path, where)
            where.chunk_first += len(starts)
            carry = buf[last + 1 :]
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


def _run_shard(
    pieces: list[tuple[str, int, int, int]], id_key: str | None, skip_bad: bool, full: frozenset[str]
) -> dict[str, Any]:
    """Read the pieces; a whole file proves its fast path here (in parallel), a file split over
    shards was proved before (``full``: those that failed)."""
    shard = _Shard(id_key, skip_bad)
    disproved: dict[str, str] = {}
    try:
        for path, start, end, size in pieces:
            why = prove_fast_path(Path(path), id_key) if start == 0 and end == size else None
            if why:
                disproved[path] = why
            shard.full = path in full or why is not None
            shard.backward = True
            _read_range(shard, path, start, end, size)
            if start == 0:
                shard.stats.files += 1
    except InputError as e:
        return error_result(e)
    return {**shard.result(), "disproved": disproved}


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
    split = {p for pieces in plan for p, start, end, size in pieces if start > 0 or end < size}
    disproved = {p: why for p in sorted(split) if (why := prove_fast_path(Path(p), id_key))}
    full = frozenset(disproved)
    results = in_processes(_run_shard, plan, id_key, skip_bad_lines, full)
    traj = merge_shards("verl", results, keyed_by="id" if id_key else "prompt")
    for r in results:
        disproved.update(r["disproved"])
    order = {str(p): k for k, p in enumerate(files)}
    for path, why in sorted(disproved.items(), key=lambda x: order.get(x[0], -1)):
        traj.stats.notes.append(
            f"{path}: the fast verl reader disagreed with a full parse ({why}); "
            "that file was read with the full JSON parser"
        )
    gaps = step_gap_note(traj.step, "verl")
    if gaps:
        traj.stats.notes.append(gaps)
    return traj


def _sample_lines(path: Path, k: int) -> list[tuple[int, bytes]]:
    """(byte offset, line) of the first and last lines of ``path`` and ``k`` seeded random ones."""
    size = path.stat().st_size
    if size == 0:
        return []
    out: dict[int, bytes] = {}
    rng = random.Random(f"{path.name}:{size}")
    with open(path, "rb") as f:
        out[0] = f.readline()
        for off in sorted(rng.randrange(size) for _ in range(k)):
            f.seek(off)
            f.readline()  # the rest of the line the offset fell in
            at = f.tell()
            if at < size:
                out[at] = f.readline()
        back = min(size, 1 << 16)
        while True:  # the last line: read back until a newline before it
            f.seek(size - back)
            tail = f.read(back).rstrip(b"\n")
            nl = tail.rfind(b"\n")
            if nl >= 0 or back == size:
                out[size - back + nl + 1] = tail[nl + 1 :]
                break
            back = min(size, back * 4)
    return [(off, line.rstrip(b"\n")) for off, line in sorted(out.items()) if line.strip()]


def _full_fields(line: bytes, id_key: str | None) -> tuple[str, float, int] | None:
    """(sample id, score, step) of a line parsed in full, or None when the line is not a valid
    verl line (the reader reports those itself)."""
    try:
        row = _loads_lenient(line)
    except (orjson.JSONDecodeError, ValueError):
        return None
    if not isinstance(row, dict) or any(k not in row for k in (id_key or "input", "score", "step")):
        return None
    score, step = row["score"], row["step"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not isinstance(step, int):
        return None
    if id_key:
        return str(row[id_key]), float(score), step
    if not isinstance(row["input"], str):
        return None
    return _text_id(row["input"])[0], float(score), step


def prove_fast_path(path: Path, id_key: str | None, k: int = _PROOF_LINES) -> str | None:
    """None when the fast reader reads a sample of ``path``'s lines exactly as a full parse does,
    else what differed. Both the batch path and the line-by-line path are checked."""
    sample = [(off, line, _full_fields(line, id_key)) for off, line in _sample_lines(Path(path), k)]
    sample = [x for x in sample if x[2] is not None]
    if not sample:
        return None
    one = _Shard(id_key, skip_bad=True)
    for off, line, want in sample:
        got = one.fields(line)
        if got is not None:
            key, (score, step) = got
            try:
                sid = one.ids[one._new_prompt(key) if id_key is None else one._new_id(key, line)]
            except ValueError:
                continue
            if (sid, score, step) != want:
                return f"line at byte {off}: fast {(sid, score, step)} != full {want}"
    batch = _Shard(id_key, skip_bad=True)
    buf = b"\n".join(line for _, line, _ in sample) + b"\n"
    ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10).tolist()
    starts = [0] + [e + 1 for e in ends[:-1]]
    if batch._batch(buf, starts, ends):
        for j, (off, _, want) in enumerate(sample):
            got3 = (batch.ids[batch.sample[j]], batch.reward[j], batch.step[j])
            if got3 != want:
                return f"line at byte {off}: fast {got3} != full {want}"
    return None


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


FORMAT = LogFormat.from_module(__name__, trainer="verl", pattern="{step}.jsonl", default_correct="score>0")
