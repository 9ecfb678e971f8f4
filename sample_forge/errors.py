"""Domain errors: the CLI shows them as one line (``SAMPLE_FORGE_DEBUG=1`` for a traceback)."""

from __future__ import annotations


class SampleForgeError(Exception):
    """A user-facing error: bad input, missing resource, offline hub, ..."""


class InputError(SampleForgeError):
    """Bad input data; the message names the file, line and field."""

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        where = []
        if path is not None:
            where.append(str(path) + (f":{line}" if line is not None else ""))
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.path, self.line, self.field = path, line, field


class LLMError(SampleForgeError):
    """An LLM call failed after its retry budget (or could not start: unknown model, budget, ...)."""


class BudgetExceeded(LLMError):
    """The ``--budget-usd`` cap was reached; no new call was started."""
