"""How a request's JSON schema is sent: the ``response_format`` of each structured-output mode, and
reading a JSON reply back (a model asked for JSON may still wrap it in prose or a code fence)."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["response_format", "strict_schema", "json_reply"]

# OpenAI's strict mode rejects these string keywords; llama.cpp's grammar uses them to bound a reply
_NOT_STRICT = ("minLength", "maxLength")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S | re.I)


def strict_schema(schema: Any) -> Any:
    """``schema`` without the keywords OpenAI's ``strict`` json_schema mode does not accept."""
    if isinstance(schema, dict):
        return {k: strict_schema(v) for k, v in schema.items() if k not in _NOT_STRICT}
    if isinstance(schema, list):
        return [strict_schema(v) for v in schema]
    return schema


def response_format(mode: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` for ``mode`` (json_schema: OpenAI, vLLM, SGLang; json_object:
    llama-cpp-python in process and its server, which build a grammar from ``schema``)."""
    if mode == "json_schema":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "reply"))[:64]
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": strict_schema(schema), "strict": True},
        }
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    raise ValueError(f"no response_format for structured output {mode!r}")


def json_reply(text: str | None) -> dict[str, Any] | None:
    """The JSON object a reply consists of (optionally in a ```json fence), else None: a reply in the
    tag format, or prose, is for the caller's other parser."""
    if not text:
        return None
    t = text.strip()
    if (m := _FENCE.match(t)) is not None:
        t = m.group(1)
    if not t.startswith("{"):
        return None
    try:
        data = orjson.loads(t)
    except orjson.JSONDecodeError:
        # llama.cpp's JSON grammar (0.3.16) lets raw newlines and tabs into strings: read them as text
        try:
            data = json.loads(t, strict=False)
        except ValueError:
            return None
    return data if isinstance(data, dict) else None
