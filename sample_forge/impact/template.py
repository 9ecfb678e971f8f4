"""The problem out of a prompt that was rendered through a chat template and decoded again.

verl's ``RayPPOTrainer._dump_generations`` logs ``tokenizer.batch_decode(prompts, skip_special_tokens=True)``:
the template's special tokens are gone and only their role words remain. What each family's
generation prompt decodes to (``{P}``: the user's message; the special tokens are ``special: true``
in each model's ``tokenizer_config.json`` unless noted):

* ChatML / Qwen2, Qwen2.5 (``<|im_start|>``/``<|im_end|>`` removed):
  ``system\\nYou are a helpful assistant.\\nuser\\n{P}\\nassistant\\n``; Qwen3 without a system turn:
  ``user\\n{P}\\nassistant\\n`` (``<think>`` is not special there, so ``<think>\\n\\n</think>\\n\\n``
  stays when thinking is switched off).
* Llama-3 / 3.1 (``<|begin_of_text|>``, ``<|start_header_id|>``, ``<|end_header_id|>``, ``<|eot_id|>``
  removed; the contents are trimmed): ``system\\n\\nCutting Knowledge Date: December 2023\\nToday Date:
  26 Jul 2024\\n\\nuser\\n\\n{P}assistant\\n\\n``; note that nothing separates the problem from
  ``assistant``.
* Gemma 1-3 (``<bos>``, ``<start_of_turn>``, ``<end_of_turn>`` removed; a system message is prepended
  to the first user turn): ``user\\n{P}\\nmodel\\n``.
* DeepSeek-R1 and its distills: ``<｜User｜>`` and ``<｜Assistant｜>`` are added tokens with
  ``special: false``, so they survive decoding (only ``<｜begin▁of▁sentence｜>`` goes):
  ``{system}<｜User｜>{P}<｜Assistant｜><think>\\n``; the marker rules of ``longtable.normalize_prompt``
  cut those.
* Mistral: v0.1/v0.2 write ``[INST]``/``[/INST]`` as plain text (kept: ``[INST] {P} [/INST]``, a marker
  rule); from v0.3 on they are control tokens and vanish, leaving ``{P}`` (with a system prompt
  prepended to the last user message by the newer templates): nothing per prompt to cut, the
  learned prefix below removes the system text.

:func:`strip_role_remnants` cuts one prompt at its role words (it sees the text before whitespace is
collapsed, so the role words are whole lines). What a trainer adds *inside* the user turn (an
instruction such as ``Let's think step by step and output the final answer within \\boxed{}.``) is
learned from the log itself by :func:`learn_template`: the common prefix and suffix of the distinct
prompts, backed off to a word boundary (to a sentence boundary when there are few prompts, where a
shared first or last word of the problems is likely), never learned from fewer than two prompts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat

__all__ = ["Template", "learn_template", "strip_role_remnants", "FEW_PROMPTS"]

# below this many distinct prompts, a learned prefix/suffix stops only at a sentence boundary
FEW_PROMPTS = 16

# (system start, user start, end): the decoded generation prompt is
# [system start ...] user start {P} end; the user start is searched from the right (the last turn)
_DECODED = (
    ("system\n", "user\n", "\nassistant\n"),  # ChatML / Qwen
    ("system\n", "user\n", "\nassistant\n<think>\n\n</think>\n\n"),  # Qwen3, thinking off
    ("system\n\n", "user\n\n", "assistant\n\n"),  # Llama-3
    (None, "user\n", "\nmodel\n"),  # Gemma
)


def strip_role_remnants(text: str) -> str:
    """The last user turn of a prompt decoded with ``skip_special_tokens``, or ``text`` unchanged
    when it is not one of the shapes above. Anchored at both ends, so a plain prompt that merely
    mentions a user stays whole."""
    for system, user, end in _DECODED:
        if not text.endswith(end):
            continue
        body = text[: len(text) - len(end)]
        if not (body.startswith(user) or (system is not None and body.startswith(system))):
            continue
        last = body.rfind("\n" + user)  # a multi-turn prompt: its last user turn
        if last >= 0:
            return body[last + 1 + len(user) :]
        if body.startswith(user):
            return body[len(user) :]
    return text


@dataclass(frozen=True)
class Template:
    """The constant text around the problems of one log (whitespace-normalized)."""

    prefix: str = ""
    suffix: str = ""
    prompts: int = 0  # distinct prompts it was learned from

    def cut(self, text: str) -> str:
        """``text`` without the prefix and suffix (only where both are really there)."""
        a = len(self.prefix) if self.prefix and text.startswith(self.prefix) else 0
        b = len(text) - len(self.suffix) if self.suffix and text.endswith(self.suffix) else len(text)
        return text[a:b].strip() if b > a else text

    def cut_all(self, texts: Sequence[str | None]) -> list[str | None]:
        """:meth:`cut` of each text (None stays None). When every text is longer than prefix and
        suffix together, ``str.removeprefix``/``removesuffix`` mapped in C equal :meth:`cut` (each
        cuts only what is there, and nothing can overlap); else :meth:`cut` per text."""
        pre, suf = self.prefix, self.suffix
        if not pre and not suf:
            return list(texts)
        try:
            whole = min(map(len, texts), default=0) > len(pre) + len(suf)
        except TypeError:  # a None among them
            whole = False
        if not whole:
            return [None if t is None else self.cut(t) for t in texts]
        out: Iterable[str] = map(str.removeprefix, texts, repeat(pre)) if pre else texts  # type: ignore[arg-type]
        if suf:
            out = map(str.removesuffix, out, repeat(suf))
        return list(map(str.strip, out))

    def describe(self) -> str:
        return f"prefix {self.prefix!r}, suffix {self.suffix!r} (from {self.prompts} distinct prompts)"


def _back_off_prefix(p: str, few: bool) -> str:
    """Shorten a common prefix to end at a boundary, so it never takes a shared first word."""
    if few:
        ends = [m.end() for m in re.finditer(r"[.?!:;]\s", p)]
        return p[: ends[-1]] if ends else ""
    if p and not p[-1].isspace():
        cut = max(p.rfind(" "), p.rfind("\n"))
        p = p[: cut + 1] if cut >= 0 else ""
    return p


def _back_off_suffix(s: str, few: bool, shortest: int) -> str:
    """Shorten a common suffix to start at a boundary (the mirror of :func:`_back_off_prefix`)."""
    if few:
        # a sentence the problem does not end: it starts after whitespace with a capital letter
        starts = [m.start() for m in re.finditer(r"\s(?=[A-Z\\])", s)]
        s = s[starts[0] :] if starts else ""
    elif s and not s[0].isspace():
        cut = min((i for i in (s.find(" "), s.find("\n")) if i >= 0), default=-1)
        s = s[cut:] if cut >= 0 else ""
    return s if len(s) < shortest else ""


def learn_template(texts: Iterable[str | None], *, distinct: bool = False) -> Template:
    """The common prefix and suffix of the distinct non-empty ``texts`` (already normalized), backed
    off to a word boundary; an empty template from fewer than two distinct prompts. ``distinct``:
    the texts are already distinct (a prompt-keyed registry's), so no set of them is built."""
    distinct_texts = list(filter(None, texts)) if distinct else list(set(filter(None, texts)))
    del distinct
    n = len(distinct_texts)
    if n < 2:
        return Template(prompts=n)
    few = n < FEW_PROMPTS
    shortest = min(map(len, distinct_texts))
    prefix = _back_off_prefix(_common_prefix(distinct_texts), few)
    suffix = _common_suffix(distinct_texts)
    if len(prefix) + len(suffix) > shortest:  # prefix and suffix overlap in the shortest prompt
        suffix = suffix[len(prefix) + len(suffix) - shortest :]
    suffix = _back_off_suffix(suffix, few, shortest - len(prefix))
    if len(prefix) + len(suffix) >= shortest:  # a problem would vanish: keep only the prefix
        suffix = ""
    return Template(prefix=prefix, suffix=suffix, prompts=n)


_FIRST = 64  # texts whose common prefix or suffix is the candidate for all


def _common_prefix(texts: list[str]) -> str:
    """Longest common prefix: that of the first texts when every text starts with it (one pass of
    C), else shrunk text by text (``os.path.commonprefix`` compares whole texts for min and max)."""
    p = os.path.commonprefix(texts[:_FIRST])
    if all(map(str.startswith, texts, repeat(p))):
        return p
    for t in texts:
        if not t.startswith(p):
            p = os.path.commonprefix([p, t])
            if not p:
                break
    return p


def _common_suffix(texts: list[str]) -> str:
    """Longest common suffix (the mirror of :func:`_common_prefix`)."""
    s = os.path.commonprefix([t[::-1] for t in texts[:_FIRST]])[::-1]
    if all(map(str.endswith, texts, repeat(s))):
        return s
    for t in texts:
        if not t.endswith(s):
            s = os.path.commonprefix([s[::-1], t[::-1]])[::-1]
            if not s:
                break
    return s
