"""The one long table every trajectory reader reduces to, and the sample registry behind it.

Readers never keep response text: per rollout (or per logged row) they keep a sample index, the
training step and the reward; per *distinct* sample they keep one id and one representative prompt.
Samples without an id column are keyed by a hash of the normalized prompt (chat template stripped,
also when it was decoded with ``skip_special_tokens`` and only role words remain; whitespace
collapsed), so the same prompt gets the same id whatever trainer logged it. What a trainer adds
around every problem (an instruction) is learned from the log's distinct prompts
(:mod:`sample_forge.impact.template`): ``SampleRegistry.problems`` are the problems cut out of the
normalized prompts ``texts``.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from dataclasses import dataclass, field, replace

import numpy as np

from sample_forge.impact.template import Template, learn_template, strip_role_remnants
from sample_forge.join import normalize_text

__all__ = ["Trajectory", "SampleRegistry", "normalize_prompt", "prompt_id", "ReadStats"]

# Chat templates: the last user turn is the prompt we key on.
_USER_TURN = [  # (marker, pattern): the regex runs only when its marker is in the text
    ("<|im_start|>", re.compile(r"<\|im_start\|>user\s*\n?(.*?)(?:<\|im_end\|>|$)", re.S)),  # ChatML
    (
        "<|start_header_id|>",
        re.compile(r"<\|start_header_id\|>user<\|end_header_id\|>\s*(.*?)(?:<\|eot_id\|>|$)", re.S),
    ),
    ("<｜User｜>", re.compile(r"<｜User｜>(.*?)(?:<｜Assistant｜>|$)", re.S)),  # DeepSeek-R1
    ("<start_of_turn>", re.compile(r"<start_of_turn>user\s*(.*?)(?:<end_of_turn>|$)", re.S)),  # Gemma
    ("[INST]", re.compile(r"\[INST\](.*?)(?:\[/INST\]|$)", re.S)),  # Llama-2 / Mistral
]
_PLAIN_USER = re.compile(
    r"^(?:.*?\n)?(?:User|Human|Question):\s*(.*?)\s*(?:\n\s*)?(?:Assistant|AI):?\s*$", re.S
)
_SPECIAL = re.compile(r"<\|[^|>]{1,40}\|>|<｜[^｜>]{1,40}｜>|</?s>")


def normalize_prompt(text: str) -> str:
    """The user's problem text out of a rendered prompt: last user turn of a chat template,
    leftover special tokens removed, then :func:`sample_forge.join.normalize_text` (the one normalizer,
    so a pool's text and a log's prompt meet on the same key)."""
    for marker, pat in _USER_TURN:
        found = pat.findall(text) if marker in text else None
        if found:
            text = found[-1]
            break
    else:
        stripped = strip_role_remnants(text)
        m = _PLAIN_USER.match(text) if stripped is text and ":" in text else None
        text = m.group(1) if m else stripped
    return normalize_text(_SPECIAL.sub(" ", text))


def prompt_id(normalized: str) -> str:
    """A short stable id for a normalized prompt (blake2b, 64 bits, hex)."""
    return "p" + hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()


@dataclass
class SampleRegistry:
    """Distinct samples seen by a reader: id -> dense index, plus one normalized prompt per sample
    (``texts``) and the problem cut out of it (``problems``)."""

    ids: list[str] = field(default_factory=list)
    texts: list[str | None] = field(default_factory=list)
    keyed_by: str = "prompt"  # "prompt" | "id"
    _index: dict[str, int] = field(default_factory=dict)
    _learned: tuple[int, Template, list[str | None]] | None = None

    @property
    def template(self) -> Template:
        """The constant text around the problems, learned from the distinct prompts seen so far."""
        return self._cut()[0]

    @property
    def problems(self) -> list[str | None]:
        """One problem text per sample: its prompt without the learned template."""
        return self._cut()[1]

    def _cut(self) -> tuple[Template, list[str | None]]:
        if self._learned is None or self._learned[0] != len(self.ids):
            # a prompt-keyed registry holds each normalized prompt once (its id is the prompt's hash)
            tpl = learn_template(self.texts, distinct=self.keyed_by == "prompt")
            self._learned = (len(self.ids), tpl, tpl.cut_all(self.texts))
        return self._learned[1], self._learned[2]

    def add(self, sid: str, text: str | None = None) -> int:
        i = self._index.get(sid)
        if i is None:
            i = self._index[sid] = len(self.ids)
            self.ids.append(sid)
            self.texts.append(text)
        elif text is not None and self.texts[i] is None:
            self.texts[i] = text
            self._learned = None
        return i

    def index(self, sid: str) -> int:
        return self._index[sid]

    def add_prompt(self, raw_text: str) -> int:
        norm = normalize_prompt(raw_text)
        return self.add(prompt_id(norm), norm)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class ReadStats:
    """What a reader saw: files, lines, bytes, and every line it skipped with the reason."""

    files: int = 0
    bytes: int = 0
    rows: int = 0
    truncated: list[str] = field(default_factory=list)  # "path:line" of truncated last lines
    bad_lines: list[str] = field(default_factory=list)  # "path:line: why" skipped by --skip-bad-lines
    notes: list[str] = field(default_factory=list)

    def merge(self, other: ReadStats) -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.rows += other.rows
        self.truncated += other.truncated
        self.bad_lines += other.bad_lines
        self.notes += [n for n in other.notes if n not in self.notes]


@dataclass
class Trajectory:
    """A pilot run reduced to one long table (NumPy columns, one entry per logged record).

    Either ``reward`` (the raw reward of one rollout per entry; the correctness rule turns it into
    ``correct``) or ``rollouts`` + ``correct`` (counts or accuracies already in the log) is set.
    ``step`` is the training step, or the pass number for logs without steps (``has_steps`` False).
    ``count``, where set, is the rollouts each ``reward`` entry stands for (a reader's tally of one
    step's rollouts per sample and reward value); None: one rollout per entry.
    """

    format: str
    registry: SampleRegistry
    sample: np.ndarray
    step: np.ndarray
    reward: np.ndarray | None = None
    rollouts: np.ndarray | None = None
    correct: np.ndarray | None = None
    epoch: np.ndarray | None = None
    has_steps: bool = True
    stats: ReadStats = field(default_factory=ReadStats)
    count: np.ndarray | None = None

    @property
    def records(self) -> int:
        """The logged records (rollouts or rows) the entries stand for."""
        return int(self.count.sum()) if self.count is not None else len(self.sample)

    def expanded(self) -> Trajectory:
        """The same trajectory with one entry per rollout (a tally repeated ``count`` times)."""
        if self.count is None:
            return self
        rep = self.count.astype(np.intp)
        cols = {k: np.repeat(getattr(self, k), rep) for k in ("sample", "step", "reward")}
        return replace(self, **cols, count=None)


def as_array(buf: array, dtype: type) -> np.ndarray:
    return np.frombuffer(buf, dtype=dtype).copy() if len(buf) else np.zeros(0, dtype)
