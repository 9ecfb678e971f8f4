"""OpenRLHF / LIMR sample dumps: ``step_{k}.json``, a JSON list of
``{prompt, response, reward, response_length}`` per training step k.

LIMR's fork writes each step with ``json.dump(samples, f, indent=4)``; compact lists read the same
way. Only ``prompt`` and ``reward`` are needed, so a file is not parsed: the layout of its first
record (``prompt`` its first key, the separator and key after the prompt, the ``reward`` key) is
learned, and since a quote inside a JSON string is always escaped, those byte patterns can only be
the keys themselves. The file is split on the prompt key (one piece per record); in each piece the
raw prompt runs to the key after it, and the reward is the last ``"reward":`` of the piece (after
the response, so that search never walks the response text). Each distinct raw prompt is decoded
once, each distinct reward text parsed once. Every file proves its shape: as many ``"reward":`` as
records, the list closed, and its first, last and 8 seeded random records parsed in full and
compared; a file of any other shape, or failing that, is parsed in full with orjson (memory bounded
by one step) and a note says so. A step's rollouts are tallied per sample and reward value
(:meth:`Shard.add_step`). Files are split over two reader processes. LIMR's rule reward is
+1 / -0.5 / -1, so the default correctness rule is ``reward==1``.
"""

from __future__ import annotations

import itertools
import json
import math
import mmap
import os
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from sample_forge.errors import InputError
from sample_forge.impact.formats.base import LogFormat, ReadOptions, SimRun
from sample_forge.impact.longtable import Trajectory, normalize_prompt, prompt_id
from sample_forge.impact.shards import (
    Shard,
    error_result,
    few_distinct,
    in_processes,
    merge_shards,
    string_end,
)
from sample_forge.impact.step_gaps import step_gap_note

__all__ = ["FORMAT", "read_openrlhf", "openrlhf_files"]

_FILE = re.compile(r"^step_(\d+)\.json$")
# the list's first record, whose first key is the prompt; group 1 the colon as written
_FIRST = re.compile(rb'\A\s*\[\s*\{\s*"prompt"(\s*:\s*)"')
_NUMBER = rb"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_REWARD_VALUE = re.compile(rb"\s*(?:(" + _NUMBER + rb")|\[\s*(" + _NUMBER + rb")\s*\])\s*[,}]")
_TAIL = 48  # bytes after the reward key that hold its value (a reward text is at most ~25)
_PROOF_RECORDS = 8
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux: fault the pages in with the mapping
_PARALLEL_MIN_BYTES = 32 << 20
_CHUNK = 1 << 18  # bytes searched for newlines at a time: a share of a core's cache
_RUN_WIDTH = 4096  # bytes of a raw prompt compared with the record before's as one row


def openrlhf_files(directory: Path) -> list[Path]:
    files = [p for p in directory.iterdir() if _FILE.match(p.name)]
    return sorted(files, key=lambda p: int(_FILE.match(p.name).group(1)))  # type: ignore[union-attr]


def _windows(arr: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes of ``arr`` from each start, one row each, zeros past the end (a copy:
    rows of a sliding window view, several times quicker than a gather of every byte)."""
    limit = len(arr) - width
    if limit < 0:
        arr = np.concatenate((arr, np.zeros(-limit, dtype=np.uint8)))
        limit = 0
    rows = np.lib.stride_tricks.sliding_window_view(arr, width)[np.minimum(starts, limit)]
    for k in np.flatnonzero(starts > limit).tolist():  # the last bytes of the buffer
        tail = arr[starts[k] :]
        rows[k] = np.concatenate((tail, np.zeros(width - len(tail), dtype=np.uint8)))
    return rows


def _words(arr: np.ndarray) -> np.ndarray:
    """The 8 bytes from each offset of ``arr`` as one little-endian integer: a view (byte
    strides), so a gather reads a whole word per index where a window gathers a row."""
    return np.ndarray((len(arr) - 7,), dtype="<u8", buffer=arr, strides=(1,))


def _line_windows(arr: np.ndarray, words: int) -> tuple[np.ndarray, np.ndarray]:
    """The offset of every newline, and ``words`` words from 2 bytes before each one (the end of
    the line before, the newline, the head of the line after), found a chunk at a time: gathered
    while the chunk is still in the cache, and the comparison's temporary a reused buffer. Words
    past either end of the buffer are clipped to its ends (those rows are checked otherwise)."""
    # rows of ``words`` words from each byte offset: a view; gathering whole rows is several
    # times quicker than gathering the words one by one at unaligned offsets
    table = np.ndarray((len(arr) - 8 * words + 1, words), dtype="<u8", buffer=arr, strides=(1, 8))
    top = len(table) - 1
    buf = np.empty(min(_CHUNK, len(arr)), dtype=bool)
    found, wins = [], []
    for c in range(0, len(arr), _CHUNK):
        part = arr[c : c + _CHUNK]
        hit = buf[: len(part)]
        np.equal(part, 10, out=hit)
        q = np.flatnonzero(hit)
        q += c
        found.append(q)
        wins.append(table[np.clip(q - 2, 0, top)])
    return np.concatenate(found), np.concatenate(wins)


def _layout_table(heads: list[bytes], words: int) -> tuple[np.ndarray, np.ndarray]:
    """Pattern and mask words for each line place of a record, laid out as :func:`_line_windows`
    reads them: the previous line's last two bytes at 0 and 1, the line's head from 3. A line
    ending in a comma shows it at 1 of the next line's window, the prompt's closing quote at 0."""
    width = len(heads)
    pat = np.zeros((width, 8 * words), dtype=np.uint8)
    mask = np.zeros((width, 8 * words), dtype=np.uint8)
    for j, h in enumerate(heads):
        pat[j, 3 : 3 + len(h)] = np.frombuffer(h, dtype=np.uint8)
        mask[j, 3 : 3 + len(h)] = 0xFF
    comma = [0, *range(2, width - 1)]  # after a closer (of the record before) and inner lines
    pat[comma, 1], mask[comma, 1] = 44, 0xFF
    pat[2, 0], mask[2, 0] = 34, 0xFF
    return pat.view("<u8"), mask.view("<u8")


def _words_at(wins: np.ndarray, offset: int) -> np.ndarray:
    """The 8 bytes at ``offset`` of each window row, as one word."""
    k, sh = divmod(offset, 8)
    if not sh:
        return wins[:, k].copy()
    return (wins[:, k] >> np.uint64(8 * sh)) | (wins[:, k + 1] << np.uint64(64 - 8 * sh))


def _rewards(texts: list[bytes], inverse: np.ndarray) -> np.ndarray | str:
    """Each record's reward from the distinct value texts and the record's text, each parsed once."""
    distinct = []
    for t in texts:
        mv = _REWARD_VALUE.fullmatch(t + b",")
        v = float(mv.group(1) or mv.group(2)) if mv else math.nan
        if not math.isfinite(v):
            return "a reward that is not one finite number"
        distinct.append(v)
    return np.asarray(distinct, dtype=np.float64)[inverse.ravel()]


def _word_rewards(codes: np.ndarray, vlen: np.ndarray) -> np.ndarray | str:
    """Rewards whose texts (``vlen`` bytes, at most 8) start each word of ``codes``, compared as
    integers: one comparison per distinct text while they are few, np.unique past that."""
    low = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
    codes = codes & low[vlen]
    few = few_distinct(codes)
    if few is None:
        distinct, inverse = np.unique(codes, return_inverse=True)
        found = distinct.tolist()
    else:
        found, inverse = few
    return _rewards([c.to_bytes(8, "little").rstrip(b"\0") for c in found], inverse)


def _window_rewards(arr: np.ndarray, va: np.ndarray, vlen: np.ndarray) -> np.ndarray | str:
    """Rewards whose texts are longer than a word, read from fixed-width windows."""
    top = int(vlen.max())
    if top > _TAIL:
        return "a reward that is not one finite number"
    width = -(-top // 8) * 8
    win = _windows(arr, va, width)
    win[np.arange(width) >= vlen[:, None]] = 0  # the bytes after the value
    codes, inverse = np.unique(win.view(f"S{width}").ravel(), return_inverse=True)
    return _rewards(codes.tolist(), inverse)  # NumPy drops the trailing zeros of S items


def _last_record_ok(data: bytes, starts: list[int], ends: list[int], heads: list[bytes]) -> bool:
    """The checks of the layout windows, on the bytes of one record (the last one)."""
    lines = [data[a:b] for a, b in zip(starts, ends)]
    inner = lines[1:-1]
    return (
        all(line.startswith(h) for line, h in zip(lines, heads))
        and inner[0].endswith(b'",')
        and all(line.endswith(b",") for line in inner[:-1])
        and not inner[-1].endswith(b",")
    )


def _prompt_runs(arr: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of records whose raw prompts (``arr[pa:pb]``) are byte for byte the same as the
    record before (a step holds a prompt's rollouts one after another): the records that start a
    run, and each record's run. The bytes are compared in full, as rows of a window over the
    buffer, a block of rows at a time (prompts longer than ``_RUN_WIDTH`` bytes each start a run,
    keeping the rows short); only the first prompt of each run is then sliced."""
    n = len(pa)
    plen = pb - pa
    same = np.zeros(n, dtype=bool)
    width = min(int(plen.max()), _RUN_WIDTH) if n else 0
    limit = len(arr) - width
    if n > 1 and width == 0:
        same[1:] = True  # empty prompts
    elif n > 1:
        rows = np.lib.stride_tricks.sliding_window_view(arr, width)
        # a longer prompt, or a row that would run past the buffer: that record starts a run
        inside = (pa <= limit) & (plen <= width)
        block = max(1, (1 << 20) // width)
        for i in range(1, n, block):
            j = min(n, i + block)
            eq = rows[np.minimum(pa[i - 1 : j], limit)]
            eq = eq[1:] == eq[:-1]
            first = eq.argmin(axis=1)  # the first byte that differs (0 if none does)
            same[i:j] = (first >= plen[i:j]) | eq[np.arange(j - i), first]
        same[1:] &= (plen[1:] == plen[:-1]) & inside[1:] & inside[:-1]
    start = ~same
    return np.flatnonzero(start), np.cumsum(start) - 1


def _reward(value: Any) -> float | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class _Reader(Shard):
    """One reader process: its own sample table and columns."""

    def __init__(self, skip_bad: bool) -> None:
        super().__init__(skip_bad)
        self.raw: dict[bytes, int] = {}  # raw (JSON-escaped) prompt -> local index
        self.text: dict[str, int] = {}  # decoded prompt -> local index (full parses)
        self.reward_of: dict[bytes, float] = {}  # distinct reward texts

    def _local(self, text: str) -> int:
        i = self.text.get(text)
        if i is None:
            norm = normalize_prompt(text)
            sid = prompt_id(norm)
            i = self.by_id.get(sid)
            if i is None:
                i = self.by_id[sid] = len(self.ids)
                self.ids.append(sid)
                self.texts.append(norm)
            self.text[text] = i
        return i

    def _raw_prompt(self, raw: bytes) -> int:
        i = self.raw.get(raw)
        if i is None:
            i = self.raw[raw] = self._local(orjson.loads(b'"' + raw + b'"'))
        return i

    def _raw_prompts(self, raws: list[bytes]) -> list[int] | str:
        """The local index of each raw prompt (new ones decoded once), or why one is not a string."""
        get = self.raw.get
        idx = [get(r, -1) for r in raws]
        if min(idx) < 0:
            try:
                idx = [i if i >= 0 else self._raw_prompt(r) for i, r in zip(idx, raws)]
            except orjson.JSONDecodeError:
                return "a prompt that is not a JSON string"
        return idx

    # -- the fast paths -------------------------------------------------------------------------
    def fast(self, data: bytes) -> tuple[list[int], Sequence[float]] | str:
        """(local sample, reward) per record, or why the file's shape is not recognised."""
        n0 = len(self.ids)
        got = self._by_lines(data)
        if not isinstance(got, str):
            return got
        self._forget(n0)
        return self._by_keys(data)

    def _mapped(self, path: Path) -> tuple[list[int], Sequence[float]] | str:
        """``_by_lines`` on the file mapped into memory, populated by the kernel: several times
        quicker than reading it into a bytes object, and nothing but the slices is copied."""
        size = path.stat().st_size
        self.stats.bytes += size
        if size == 0:
            return "an empty file"
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | _POPULATE, prot=mmap.PROT_READ)
        try:
            return self._by_lines(mm)  # type: ignore[arg-type]
        finally:
            try:
                mm.close()
            except BufferError:  # a traceback still holds a view of it: the collector closes it
                pass

    def _by_lines(self, data: bytes) -> tuple[list[int], Sequence[float]] | str:
        """One key per line (``json.dump(indent=N)``): a JSON string holds no raw newline, so
        every record is the same fixed number of lines, each starting with the first record's key
        at that place. One chunked NumPy pass finds the newlines and gathers a few words around
        each; the layout of every record (each line's head, the commas and the prompt's quotes)
        is checked on those words and the reward read from them; of each run of records with the
        same raw prompt (compared byte for byte), only the first prompt is sliced in Python."""
        size = len(data)
        m = _FIRST.match(data)
        if m is None:
            return "not a list of records whose first key is prompt"
        # the first record's lines, found with str.find: its layout sets the words to gather
        lines, at = [], data.find(b"\n")
        while 0 <= at and len(lines) < 64:
            nxt = data.find(b"\n", at + 1)
            lines.append(data[at + 1 : nxt if nxt >= 0 else size])
            if len(lines) > 1 and lines[-1].rstrip(b",") == lines[0].replace(b"{", b"}"):
                break
            at = nxt
        if at < 0 or len(lines) < 4 or data[: data.find(b"\n")].strip() != b"[" or lines[0].strip() != b"{":
            return "not one key per line"
        opener, width = lines[0], len(lines)
        closer = opener.replace(b"{", b"}")
        prefixes = []  # the key of each inner line, as written up to its value
        for line in lines[1:-1]:
            q = line.find(b'"')
            e = string_end(line, q + 1) if q >= 0 else -1
            c = line.find(b":", e + 1) if e > 0 else -1
            if c < 0 or line[:q].strip() or line[e + 1 : c].strip():
                return "not one key per line"
            v = c + 1
            while v < len(line) and line[v] in b" \t":
                v += 1
            prefixes.append(line[:v])
        keys = [orjson.loads(p[p.find(b'"') : p.rfind(b'"') + 1]) for p in prefixes]
        if keys[0] != "prompt" or "reward" not in keys:
            return "not a list of records whose first key is prompt"
        jr = len(keys) - 1 - keys[::-1].index("reward") + 1  # the line of the last "reward"
        heads = [opener, prefixes[0] + b'"', *prefixes[1:], closer]
        words = -(-max(3 + max(map(len, heads)), 3 + len(prefixes[jr - 1]) + 8) // 8)
        if words > 8 or size < 64:
            return "not one key per line"

        arr = np.frombuffer(data, dtype=np.uint8)
        nl, wins = _line_windows(arr, words)
        while size and data[size - 1] in b" \t\r\n":  # trailing whitespace after the list
            size -= 1
        keep = int(np.searchsorted(nl, size))
        nl = nl[:keep]
        if len(nl) < 3 or data[nl[-1] + 1 : size].strip() != b"]":
            return "not one key per line"
        n, extra = divmod(len(nl) - 1, width)
        if extra:
            return "not one key per line"
        s2 = (nl[:-1] + 1).reshape(n, width)
        e2 = nl[1:].reshape(n, width)
        w3 = wins[: len(nl) - 1].reshape(n, width, words)
        lens = e2 - s2
        need = np.array([len(h) for h in heads])
        need[1] += 2  # the prompt's closing quote and the comma
        need[1:-1] += [0, *(1 for _ in prefixes[1:])]  # a value after each other key
        last = n - 1  # its windows may run past the buffer: checked as bytes
        if (
            (lens < need).any()
            or (lens[:, 0] != len(opener)).any()
            or (lens[:-1, -1] != len(closer) + 1).any()
            or lens[-1, -1] != len(closer)
            or (((w3[:last, -1, 0] >> np.uint64(8)) & np.uint64(0xFF)) == 44).any()
            or (n > 1 and int(s2[last - 1, -1]) - 3 + 8 * words > len(data))  # a clipped window
            or not _last_record_ok(data, s2[last].tolist(), e2[last].tolist(), heads)
        ):
            return "records of different line layouts"
        pa = s2[:, 1] + len(heads[1])
        pb = e2[:, 1] - 2
        # the reward: the value of the last "reward" line, from its window
        va = s2[:, jr] + len(prefixes[jr - 1])
        vlen = e2[:, jr] - (jr < width - 2) - va
        if int(vlen.max()) <= 8:
            codes = _words_at(w3[:, jr], 3 + len(prefixes[jr - 1]))
            codes[last] = int.from_bytes(data[int(va[last]) : int(va[last] + vlen[last])], "little")
            vals = _word_rewards(codes, vlen)
        else:
            vals = _window_rewards(arr, va, vlen)
        if isinstance(vals, str):
            return vals
        # the heads, commas and quotes of all records but the last, compared in place
        pat, mask = _layout_table(heads, words)
        body = w3[:last]
        np.bitwise_xor(body, pat, out=body)
        np.bitwise_and(body, mask, out=body)
        if last:
            body[0, 0] = 0  # before the first record: the list's "[", checked above
        if body.any():
            return "records of different line layouts"
        head, groups = _prompt_runs(arr, pa, pb)
        idx = self._raw_prompts([data[a:b] for a, b in zip(pa[head].tolist(), pb[head].tolist())])
        if isinstance(idx, str):
            return idx
        idx = np.asarray(idx, dtype=np.intc)[groups]
        lo, hi = s2[:, 0], e2[:, -1]

        def span(j: int) -> tuple[int, int]:
            end = int(hi[j])
            return int(lo[j]), end - (data[end - 1] == 44)

        return self._prove(data, span, idx, vals) or (idx, vals)

    def _by_keys(self, data: bytes) -> tuple[list[int], list[float]] | str:
        """Any other layout: split on the prompt key, the reward the last reward key of a piece."""
        m = _FIRST.match(data)
        if m is None:
            return "not a list of records whose first key is prompt"
        colon = m.group(1)
        e = string_end(data, m.end())
        j = data.find(b'"', e + 1) if e > 0 else -1
        sep = data[e + 1 : j]
        if j < 0 or sep.strip() != b",":
            return "the prompt is not followed by another key"
        k = data.find(b'"', j + 1)
        pend = b'"' + sep + data[j : k + 1] + colon  # closing quote, separator, next key
        rkey = b'"reward"' + colon
        r0 = data.find(rkey, e)
        if r0 < 0:
            return "no reward key in the first record"
        # the needles end in a letter, not in a quote or a space (frequent bytes), which keeps
        # bytes.split/count several times faster: {<ws>"prompt and ,<ws>"reward
        brace = data.find(b"{")
        pneedle = data[brace : m.end() - len(colon) - 2]
        rneedle = data[data.rfind(b",", 0, r0) : r0] + b'"reward'  # from the comma: structural
        skip = len(colon) + 2  # '": "' between the needle and the prompt text
        if not data.rstrip().endswith(b"]"):
            return "the list is not closed"
        pieces = data.split(pneedle)
        head, recs = pieces[0], pieces[1:]
        if not recs or data.count(rneedle) != len(recs):
            return "not one reward key per record, laid out as in the first"
        pkey = pneedle
        pre = b'"' + colon + b'"'
        if not all([c.startswith(pre) for c in recs]):
            return "a record whose prompt is not a string"
        ends = [c.find(pend) for c in recs]
        if min(ends) < 0:
            return "a prompt not followed by the first record's next key"
        rs = [c.rfind(rkey) for c in recs]
        if any([r < p for r, p in zip(rs, ends)]):
            return "a reward key before the prompt's end"
        n = len(rkey)
        tails = [c[r + n : r + n + _TAIL] for c, r in zip(recs, rs)]
        get = self.reward_of.get
        vals = [get(t) for t in tails]
        if None in vals:
            for t in set(tails):
                if t not in self.reward_of:
                    mv = _REWARD_VALUE.match(t)
                    if mv is None:
                        return "a reward that is not one finite number"
                    v = float(mv.group(1) or mv.group(2))
                    if not math.isfinite(v):
                        return "a reward that is not one finite number"
                    self.reward_of[t] = v
            vals = [get(t) for t in tails]
        idx = self._raw_prompts([c[skip:p] for c, p in zip(recs, ends)])
        if isinstance(idx, str):
            return idx
        n = len(recs)
        # where each record starts: the needle starts with the record's brace
        offs = list(itertools.accumulate((len(c) + len(pkey) for c in recs), initial=len(head)))

        def span(j: int) -> tuple[int, int]:
            return offs[j], data.rfind(b"}", 0, offs[j + 1] if j < n - 1 else len(data)) + 1

        why = self._prove(data, span, idx, vals)
        return why or (idx, vals)  # type: ignore[return-value]

    def _prove(
        self, data: bytes, span: Callable[[int], tuple[int, int]], idx: list[int], vals: Sequence[float]
    ) -> str | None:
        """First, last and seeded random records parsed in full must read the same;
        ``span(j)``: where record j starts and ends."""
        n = len(idx)
        rng = random.Random(n * 7919 + len(data))
        picks = sorted({0, n - 1, *(rng.randrange(n) for _ in range(_PROOF_RECORDS))})
        for j in picks:
            start, end = span(j)
            try:
                rec = orjson.loads(data[start:end])
            except orjson.JSONDecodeError:
                return f"record {j + 1} is not one JSON object"
            if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str):
                return f"record {j + 1} has no prompt string"
            want = (self._local(rec["prompt"]), _reward(rec.get("reward")))
            if want != (idx[j], vals[j]):
                return f"record {j + 1}: fast {(idx[j], vals[j])} != full {want}"
        return None

    def _forget(self, n0: int) -> None:
        """Drop the samples a failed fast pass added: only the full parse says what the file holds."""
        if len(self.ids) == n0:
            return
        del self.ids[n0:], self.texts[n0:]
        for d in (self.by_id, self.text, self.raw):
            for key in [key for key, i in d.items() if i >= n0]:
                del d[key]

    # -- the full parse -------------------------------------------------------------------------
    def full(self, path: Path, data: bytes, last: bool) -> tuple[list[int], list[float]] | None:
        try:
            rows = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            if last:  # the run is still writing its last step
                self.stats.truncated.append(f"{path}: truncated last file ({e})")
                return None
            raise InputError(f"malformed JSON ({e})", path=str(path)) from None
        if not isinstance(rows, list):
            raise InputError("expected a JSON list of {prompt, response, reward}", path=str(path))
        idx: list[int] = []
        vals: list[float] = []
        for n, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or "prompt" not in row or "reward" not in row:
                if self.skip_bad:
                    self.stats.bad_lines.append(f"{path}:{n}: not a {{prompt, reward}} object")
                    continue
                field = "prompt" if isinstance(row, dict) and "prompt" not in row else "reward"
                raise InputError("entry lacks a key", path=str(path), line=n, field=field)
            r = _reward(row["reward"])
            if r is None:
                raise InputError(
                    f"reward is not a finite number ({row['reward']!r})",
                    path=str(path),
                    line=n,
                    field="reward",
                )
            p = row["prompt"]
            idx.append(self._local(p if isinstance(p, str) else str(p)))
            vals.append(r)
        return idx, vals

    def read(self, path: Path, last: bool) -> None:
        k = int(_FILE.match(path.name).group(1))  # type: ignore[union-attr]
        n0 = len(self.ids)
        got = self._mapped(path)
        if isinstance(got, str):
            self._forget(n0)
            data = path.read_bytes()
            got = self._by_keys(data)
            if isinstance(got, str):
                why = got
                self._forget(n0)
                got = self.full(path, data, last)
                if got is None:
                    return
                self.stats.notes.append(f"{path}: {why}; read with the full JSON parser")
            del data
        idx, vals = got
        self.stats.files += 1
        self.stats.rows += len(idx)
        self.add_step(idx, k, vals)


def _keep_freed_memory() -> None:
    """In a reader process (glibc only): keep freed memory for the next file's arrays instead of
    returning it to the kernel and faulting it in again (~a tenth of the reading CPU, mostly
    system time); the process ends after its files, so nothing is held for long."""
    import ctypes
    import multiprocessing as mp

    if mp.parent_process() is None:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _run(paths: list[str], last: str, skip_bad: bool) -> dict[str, Any]:
    _keep_freed_memory()
    reader = _Reader(skip_bad)
    try:
        for p in paths:
            reader.read(Path(p), p == last)
    except InputError as e:
        return error_result(e)
    return reader.result()


def read_openrlhf(
    files: list[Path], *, skip_bad_lines: bool = False, workers: int | None = None
) -> Trajectory:
    if not files:
        raise InputError("no OpenRLHF step_*.json files")
    paths = [str(p) for p in files]
    workers = workers or min(2, os.cpu_count() or 1)
    n = 1
    if workers > 1 and len(paths) > 1 and sum(p.stat().st_size for p in files) >= _PARALLEL_MIN_BYTES:
        n = min(workers, len(paths))
    parts = [paths[i * len(paths) // n : (i + 1) * len(paths) // n] for i in range(n)]
    results = in_processes(_run, parts, paths[-1], skip_bad_lines)
    traj = merge_shards("openrlhf", results, keyed_by="prompt")
    gaps = step_gap_note(traj.step, "openrlhf")
    if gaps:
        traj.stats.notes.append(gaps)
    return traj


def _matches(path: Path) -> bool:
    return bool(_FILE.match(path.name))


def _read(files: list[Path], opts: ReadOptions) -> Trajectory:
    return read_openrlhf(files, skip_bad_lines=opts.skip_bad_lines, workers=opts.workers)


def _write(out: Path, run: SimRun) -> tuple[int, int]:
    resp = run.responses
    lines = nbytes = 0
    for s, items in run.by_step.items():
        rows = []
        for i, e in items:
            for ok in run.rollouts_of(i, e):
                text = resp.texts[resp.next()]
                # LIMR's rule reward: +1 correct, -0.5 wrong answer, -1 no parsable answer
                reward = 1.0 if ok else (-0.5 if run.rng.random() < 0.7 else -1.0)
                rows.append(
                    {
                        "prompt": run.prompt(i),
                        "response": text,
                        "reward": reward,
                        "response_length": len(text) // 4,
                    }
                )
                lines += 1
        data = json.dumps(rows, ensure_ascii=False).encode()
        (out / f"step_{s}.json").write_bytes(data)
        nbytes += len(data)
    return lines, nbytes


FORMAT = LogFormat.from_module(
    __name__, trainer="OpenRLHF", pattern="step_*.json", default_correct="reward==1"
)
