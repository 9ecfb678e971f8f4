"""The one grammar of Hugging Face sources: ``hf:ORG/NAME[:CONFIG][@SPLIT]``.

``pool --source``, ``--pool`` and decontamination benchmarks all read it through :func:`parse_hub`, so
``:x`` is a config and ``@x`` a split everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from sample_forge.deprecation import deprecated
from sample_forge.errors import SampleForgeError

__all__ = ["HubSource", "parse_hub", "is_hub", "SPLIT_NAMES", "GRAMMAR"]

GRAMMAR = "hf:ORG/NAME[:CONFIG][@SPLIT]"
# what the older decontamination spelling hf:ORG/NAME:SPLIT put after the colon
SPLIT_NAMES = frozenset({"train", "test", "validation", "valid", "dev", "eval"})


@dataclass(frozen=True)
class HubSource:
    """A parsed ``hf:`` source; ``config``/``split`` are None when not given."""

    dataset: str
    config: str | None = None
    split: str | None = None

    def label(self, config: str | None = None, split: str | None = None) -> str:
        """The source spelled back in the grammar (with the config and split actually loaded)."""
        s = f"hf:{self.dataset}"
        if config or self.config:
            s += f":{config or self.config}"
        if split or self.split:
            s += f"@{split or self.split}"
        return s

    @property
    def name(self) -> str:
        """The dataset's own name (``MATH-500`` of ``HuggingFaceH4/MATH-500``)."""
        return self.dataset.rsplit("/", 1)[-1]


def is_hub(source: object) -> bool:
    return str(source).strip().startswith("hf:")


def parse_hub(source: str, *, legacy_split: bool = False) -> HubSource:
    """Parse ``hf:ORG/NAME[:CONFIG][@SPLIT]``. With ``legacy_split`` (decontamination benchmarks), the
    older ``hf:ORG/NAME:SPLIT`` (no ``@``, a split name after the colon) is read as a split, with a
    deprecation line."""
    text = str(source).strip()
    if not text.startswith("hf:"):
        raise SampleForgeError(f"bad hub source '{source}'; expected {GRAMMAR}")
    spec = text[3:]
    split = None
    if "@" in spec:
        spec, split = spec.rsplit("@", 1)
        if not split:
            raise SampleForgeError(f"bad hub source '{source}': empty split after '@'; expected {GRAMMAR}")
    config = None
    if ":" in spec:
        spec, config = spec.split(":", 1)
        if not config or ":" in config:
            raise SampleForgeError(f"bad hub source '{source}'; expected {GRAMMAR}")
    if not spec:  # a local dataset folder (hf:/path/to/ds) is a dataset id to `datasets` too
        raise SampleForgeError(f"bad hub source '{source}'; expected {GRAMMAR}")
    if legacy_split and split is None and config in SPLIT_NAMES:
        new = f"hf:{spec}@{config}"
        deprecated(f"'{text}' (a split after ':')", f"'{new}'")
        return HubSource(spec, None, config)
    return HubSource(spec, config, split)
