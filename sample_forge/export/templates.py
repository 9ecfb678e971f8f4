"""Prompt templates: plain text with one ``{problem}`` slot.

* ``qwen-boxed``: problem + " Let's think step by step and output the final answer within \\boxed{}."
  (the DeepScaleR / 1-shot RLVR suffix);
* ``orz``: the Open-Reasoner-Zero prompt (``playground/zero_setting_base.py`` of
  Open-Reasoner-Zero, rendered without the BOS token), the style the polymath-learning paper trains with;
* ``none``: the problem as it is;
* a FILE path: your own text with a ``{problem}`` slot.

The slot is replaced literally (no ``str.format``: templates hold ``\\boxed{}`` braces). A problem that
already carries the template (DSR-sub prompts end with the qwen-boxed suffix) is left as it is, so
exporting such a row does not double the instruction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sample_forge.errors import InputError
from sample_forge.paths import read_prompt

__all__ = ["Template", "load_template", "BUILTIN", "SLOT"]

SLOT = "{problem}"
BUILTIN = {"qwen-boxed": "qwen_boxed", "orz": "orz", "none": None}


@dataclass(frozen=True)
class Template:
    """A named prompt template; ``text`` holds exactly one ``{problem}`` slot."""

    name: str
    text: str

    @property
    def prefix(self) -> str:
        return self.text.split(SLOT, 1)[0]

    @property
    def suffix(self) -> str:
        return self.text.split(SLOT, 1)[1]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def already_applied(self, problem: str) -> bool:
        """True when the problem already starts with the prefix and ends with the suffix (modulo
        surrounding whitespace), and the template adds something."""
        pre, suf = self.prefix.strip(), self.suffix.strip()
        if not pre and not suf:
            return False
        p = problem.strip()
        return p.startswith(pre) and p.endswith(suf) and len(p) > len(pre) + len(suf)

    def apply(self, problem: str) -> str:
        if self.already_applied(problem):
            return problem
        return self.prefix + problem + self.suffix


def load_template(spec: str) -> Template:
    """``orz`` | ``qwen-boxed`` | ``none`` | a path to a text file with a ``{problem}`` slot."""
    key = spec.strip().lower().replace("_", "-")
    if key in BUILTIN:
        name = BUILTIN[key]
        return Template(key, SLOT if name is None else read_prompt(name))
    path = Path(spec)
    if not path.is_file():
        raise InputError(
            f"unknown template '{spec}': use orz, qwen-boxed, none or a file with a {SLOT} slot", path=spec
        )
    text = path.read_text(encoding="utf-8")
    if text.endswith("\n"):
        text = text[:-1]  # an editor's final newline is not part of the prompt
    n = text.count(SLOT)
    if n != 1:
        raise InputError(f"template must contain exactly one {SLOT} slot, found {n}", path=str(path))
    return Template(path.name, text)
