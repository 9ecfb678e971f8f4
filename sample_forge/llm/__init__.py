"""The LLM layer: every LLM call of sample-forge goes through ``get_model(name).complete(...)``.

from sample_forge.llm import get_model, Request
m = get_model()                       # OPENAI_BASE_URL/OPENAI_API_KEY if set, else built-in "local"
[c] = m.complete([{"role": "user", "content": "2+2?"}], max_tokens=32)
results = m.complete_many([Request(msgs, n=4) for msgs in batch], failures_path="failures.jsonl")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sample_forge.llm.base import (
    BudgetExceeded,
    ChatReply,
    LLMError,
    MalformedResponse,
    Model,
    Request,
    Result,
)
from sample_forge.llm.budget import Budget
from sample_forge.llm.cache import Cache, default_cache_path
from sample_forge.llm.config import ModelConfig, load_configs, resolve_config

__all__ = [
    "get_model",
    "Model",
    "Request",
    "Result",
    "LLMError",
    "BudgetExceeded",
    "Budget",
    "Cache",
    "ModelConfig",
    "load_configs",
    "default_cache_path",
    "ChatReply",
    "MalformedResponse",
    "resolve_config",
]


def get_model(
    name: str | None = None,
    *,
    cache: bool | str | os.PathLike[str] | Cache | None = True,
    budget: float | Budget | None = None,
    config_path: str | os.PathLike[str] | None = None,
    retry_failed: bool = False,
) -> Model:
    """The model called ``name``: ``"local"`` (built-in SmolLM2), a ``[models.NAME]`` of the config
    file, ``"env"`` (OPENAI_BASE_URL/OPENAI_API_KEY/OPENAI_MODEL), or None (env if set, else the
    config's ``default``, else local).

    ``cache``: True = the default SQLite file ($SAMPLE_FORGE_CACHE_DB or the user cache dir), a path,
    a Cache, or False/None = no cache and no call log (``--no-cache``).
    ``budget``: a USD cap (float) or a Budget shared by several models.
    ``retry_failed``: ask again for samples that ended at max_tokens before with the same settings."""
    cfg = resolve_config(name, config_path=config_path)
    if cache is True:
        cache_obj: Cache | None = Cache(default_cache_path())
    elif cache is False or cache is None:
        cache_obj = None
    elif isinstance(cache, Cache):
        cache_obj = cache
    else:
        cache_obj = Cache(Path(cache))
    budget_obj = budget if isinstance(budget, Budget) or budget is None else Budget(float(budget))
    kwargs: dict[str, Any] = {"cache": cache_obj, "budget": budget_obj}
    if cfg.backend == "local":
        from sample_forge.llm.local_backend import LocalModel

        model: Model = LocalModel(cfg, **kwargs)
    else:
        from sample_forge.llm.openai_backend import OpenAIModel

        model = OpenAIModel(cfg, **kwargs)
    model.retry_failed = retry_failed
    return model
