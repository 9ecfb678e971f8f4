"""Named models from the TOML config (``sample-forge models path``) plus the built-in ``local``.

Example ``models.toml``::

    default = "qwen72b"            # optional: the model used when none is named

    [models.qwen72b]
    base_url = "https://api.together.xyz/v1"
    model = "Qwen/Qwen2.5-72B-Instruct-Turbo"
    api_key_env = "TOGETHER_API_KEY"   # the NAME of the variable; keys never go in this file
    max_concurrency = 16
    price_in = 1.2                     # USD per 1M prompt tokens
    price_out = 1.2                    # USD per 1M completion tokens
    timeout = 120
    max_retries = 4
    structured_output = "json_schema"  # or "json_object" (llama.cpp server), "none", "auto" (default)

    [models.vllm]                      # replicas of one model: a list of base URLs
    base_url = ["http://node1:8000/v1", "http://node2:8000/v1"]
    model = "Qwen/Qwen2.5-Math-7B-Instruct"
    max_concurrency = 32               # per replica
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sample_forge.errors import InputError, LLMError
from sample_forge.tomlconfig import from_table, read_toml

__all__ = [
    "ModelConfig",
    "load_configs",
    "resolve_config",
    "safe_url",
    "LOCAL",
    "ENV_NAME",
    "STRUCTURED_OUTPUT",
]

LOCAL = "local"
ENV_NAME = "env"  # the model described by OPENAI_BASE_URL / OPENAI_API_KEY / OPENAI_MODEL

# How a request's JSON schema reaches the model. json_schema: OpenAI's ``response_format`` (also vLLM,
# SGLang); json_object: ``{"type": "json_object", "schema": ...}`` (llama-cpp-python, in process and its
# server); none: no schema, the prompt's tag format; auto: json_schema, stepping down to json_object and
# then none when the endpoint rejects the ``response_format`` (HTTP 400/422).
STRUCTURED_OUTPUT = ("auto", "json_schema", "json_object", "none")


def safe_url(url: str | None) -> str | None:
    """``url`` with any password and query values masked, for messages, logs, caches and repr()
    (some gateways take the key as ``https://user:KEY@host`` or ``?api-key=KEY``)."""
    if not url:
        return url
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        u = urlsplit(url)
        netloc = u.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}:***@{host}" if ":" in user else f"***@{host}"
        query = urlencode([(k, "***") for k, _ in parse_qsl(u.query, keep_blank_values=True)], safe="*")
        return urlunsplit((u.scheme, netloc, u.path, query, u.fragment))
    except ValueError:
        return "<unparseable url>"


@dataclass(frozen=True, repr=False)
class ModelConfig:
    """How to reach one model. ``api_key_env`` names an environment variable; the key itself is
    read only when the client is built and is never stored, logged or cached."""

    name: str
    model: str
    base_url: str | None = None  # None: the openai default (api.openai.com)
    api_key_env: str | None = None
    max_concurrency: int = 8
    price_in: float = 0.0  # USD per 1M prompt tokens
    price_out: float = 0.0  # USD per 1M completion tokens
    timeout: float = 60.0
    max_retries: int = 3
    backend: str = "openai"  # "openai" | "local"
    structured_output: str = "auto"  # one of STRUCTURED_OUTPUT
    cooldown: float = 10.0  # seconds a failed replica rests before one probe request (doubles per failure)
    # every base URL when the file lists several (replicas of one model); ``base_url`` is the first,
    # and the cache key holds only it, so which replica answered does not change a key
    replicas: tuple[str, ...] = ()

    @property
    def base_urls(self) -> tuple[str | None, ...]:
        """The endpoints to spread requests over: the replicas, else the one ``base_url``."""
        return self.replicas or (self.base_url,)

    def __repr__(self) -> str:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["base_url"] = safe_url(self.base_url)
        fields["replicas"] = tuple(safe_url(u) for u in self.replicas)
        return f"ModelConfig({', '.join(f'{k}={v!r}' for k, v in fields.items())})"


def _local_config() -> ModelConfig:
    return ModelConfig(
        name=LOCAL,
        model="SmolLM2-135M-Instruct",
        base_url=None,
        max_concurrency=1,
        timeout=120.0,
        max_retries=1,
        backend="local",
        structured_output="json_object",  # llama-cpp-python builds a grammar from the schema
    )


def load_configs(path: str | os.PathLike[str] | None = None) -> tuple[dict[str, ModelConfig], str | None]:
    """All named models of the config file (absent file: none) and its ``default`` name."""
    from sample_forge.paths import config_path

    p = Path(path) if path is not None else config_path()
    if not p.exists():
        return {}, None
    data = read_toml(p)
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise InputError("[models] must be a table of [models.NAME] tables", path=str(p), field="models")
    out = {name: _parse_one(p, name, table) for name, table in models.items()}
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise InputError("must be a model name (string)", path=str(p), field="default")
    return out, default


def _parse_one(p: Path, name: str, table: Any) -> ModelConfig:
    where = f"models.{name}"
    if name == LOCAL:
        raise InputError(
            f"'{LOCAL}' is the built-in SmolLM2 model; pick another name", path=str(p), field=where
        )
    replicas: tuple[str, ...] = ()
    if isinstance(table, dict) and isinstance(table.get("base_url"), list):
        urls = table["base_url"]
        if not urls or not all(isinstance(u, str) and u for u in urls):
            raise InputError(
                "a list of base URLs must hold at least one non-empty string",
                path=str(p),
                field=f"{where}.base_url",
            )
        if len(set(urls)) != len(urls):
            raise InputError("a base URL is listed twice", path=str(p), field=f"{where}.base_url")
        table = {**table, "base_url": urls[0]}
        replicas = tuple(urls) if len(urls) > 1 else ()
    cfg = from_table(
        ModelConfig,
        table,
        path=p,
        section=where,
        skip=("name", "backend", "replicas"),
        name=name,
        replicas=replicas,
    )
    if not cfg.model:
        raise InputError("'model' (the served model id) is required", path=str(p), field=f"{where}.model")
    if cfg.structured_output not in STRUCTURED_OUTPUT:
        raise InputError(
            f"must be one of {', '.join(STRUCTURED_OUTPUT)}, got {cfg.structured_output!r}",
            path=str(p),
            field=f"{where}.structured_output",
        )
    for key in ("max_concurrency", "price_in", "price_out", "timeout", "max_retries", "cooldown"):
        value = getattr(cfg, key)
        if value < (1 if key == "max_concurrency" else 0):
            raise InputError(f"out of range: {value}", path=str(p), field=f"{where}.{key}")
    return cfg


def _env_config() -> ModelConfig | None:
    if not (os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY")):
        return None
    return ModelConfig(
        name=ENV_NAME,
        model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        base_url=os.environ.get("OPENAI_BASE_URL") or None,
        api_key_env="OPENAI_API_KEY",
    )


def resolve_config(
    name: str | None = None, *, config_path: str | os.PathLike[str] | None = None
) -> ModelConfig:
    """``local``; a config name; ``env``; or, for None: OPENAI_* env when set, else the config's
    ``default``, else ``local``."""
    if name == LOCAL:
        return _local_config()
    configs, default = load_configs(config_path)
    if name is None:
        env = _env_config()
        if env is not None:
            return env
        name = default or LOCAL
        if name == LOCAL:
            return _local_config()
    if name in configs:
        return configs[name]
    if name == ENV_NAME:
        env = _env_config()
        if env is not None:
            return env
    from sample_forge.paths import config_path as _cp

    known = sorted({LOCAL, *configs})
    raise LLMError(f"unknown model '{name}'; known: {', '.join(known)} (config: {config_path or _cp()})")
