"""Any OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, llama.cpp server, ...) via ``AsyncOpenAI``.

The openai client retries 429/408/409/5xx, timeouts and connection errors itself (``max_retries``,
exponential backoff with jitter, honouring ``Retry-After``); the body is parsed here (raw response, no
pydantic) so a truncated or empty 200 answer becomes a MalformedResponse that the layer retries.
A request's JSON schema goes out as ``response_format`` in the model's ``structured_mode``. With
``structured_output = "auto"`` the first schema call of a process is a probe sent without the client's
retries: an error about the ``response_format`` (400/422, or the 500 that llama-cpp-python's server
answers to ``json_schema``) steps the mode down (json_schema, json_object, none) for the rest of the
process and the call is sent again; any other error sends it again with the usual retries.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import orjson

from sample_forge.llm.base import ChatReply, LLMError, MalformedResponse, Model, log
from sample_forge.llm.schema import response_format

__all__ = ["OpenAIModel"]

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
_STEP_DOWN = {"json_schema": "json_object", "json_object": "none"}


class _SchemaRejected(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code, self.message = status_code, message


class OpenAIModel(Model):
    _client: Any = None
    _probed = False  # "auto": the current structured mode was accepted once in this process

    @property
    def endpoint(self) -> str:
        return (self.config.base_url or OPENAI_DEFAULT_URL).rstrip("/")

    def _api_key(self) -> str:
        env = self.config.api_key_env
        if not env:
            return "no-key"  # local servers ignore it; the client insists on one
        key = os.environ.get(env)
        if not key:
            raise LLMError(f"model '{self.name}': environment variable {env} (its api_key_env) is not set")
        return key

    def _get_client(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                api_key=self._api_key(),
                base_url=self.endpoint,
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
                http_client=_http_client(self.config.timeout),
            )
        return self._client

    def _forget_client(self) -> None:
        self._client = None

    async def _aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _achat(
        self,
        messages: list[dict[str, Any]],
        *,
        n: int,
        temperature: float,
        max_tokens: int,
        seed: int | None,
        schema: dict[str, Any] | None = None,
    ) -> ChatReply:
        while True:
            mode = self.structured_mode
            probe = schema is not None and self.config.structured_output == "auto" and not self._probed
            try:
                reply = await self._achat_once(messages, n, temperature, max_tokens, seed, schema, probe)
                if probe:
                    self._probed = True
                return reply
            except _SchemaRejected as e:
                rejected = e
            except LLMError:
                if not probe:
                    raise
                self._probed = True  # not about the schema: the usual retries decide
                continue
            if self.config.structured_output != "auto":
                raise LLMError(
                    f"HTTP {rejected.status_code} from {self.shown_endpoint} for structured output "
                    f"'{mode}': {_short(rejected.message)} (set structured_output in the models config)"
                ) from None
            if self.structured_mode == mode:  # another call in flight may have stepped down already
                self.structured_mode = _STEP_DOWN[mode]
                self._probed = False
                log.warning(
                    "model %s: %s rejected the %s response_format (HTTP %s); structured output: %s",
                    self.name,
                    self.shown_endpoint,
                    mode,
                    rejected.status_code,
                    self.structured_mode,
                )
            if not self.supports_schema:
                schema = None

    async def _achat_once(
        self,
        messages: list[dict[str, Any]],
        n: int,
        temperature: float,
        max_tokens: int,
        seed: int | None,
        schema: dict[str, Any] | None,
        probe: bool = False,
    ) -> ChatReply:
        import openai

        client = self._get_client()
        if probe:
            client = client.with_options(max_retries=0)
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if n != 1:
            kwargs["n"] = n
        if seed is not None:
            kwargs["seed"] = seed
        if schema is not None and self.supports_schema:
            kwargs["response_format"] = response_format(self.structured_mode, schema)
        tries = self.config.max_retries
        try:
            raw = await client.chat.completions.with_raw_response.create(**kwargs)
        except openai.APIStatusError as e:
            about_format = e.status_code in (400, 422) or "response_format" in str(e.message)
            if "response_format" in kwargs and about_format:
                raise _SchemaRejected(e.status_code, e.message) from None
            raise LLMError(
                f"HTTP {e.status_code} from {self.shown_endpoint} after {tries} retries: {_short(e.message)}"
            ) from None
        except openai.APITimeoutError as e:
            refused = _connect_failure(e)
            if refused is not None:  # the aiohttp transport reports a refused connection as a timeout
                raise LLMError(
                    f"cannot connect to {self.shown_endpoint} after {tries} retries: {_short(refused)}"
                ) from None
            raise LLMError(
                f"timed out after {self.config.timeout:g}s from {self.shown_endpoint} ({tries} retries)"
            ) from None
        except openai.APIConnectionError as e:
            raise LLMError(
                f"cannot connect to {self.shown_endpoint} after {tries} retries: "
                f"{_short(str(e.__cause__ or e))}"
            ) from None
        body = raw.http_response.content
        return parse_chat_body(body)


def _http_client(timeout: float) -> Any:
    """The openai client's aiohttp transport when aiohttp is installed: several times less CPU per
    request than its default httpx transport (bench/bench_llm.py). ``SAMPLE_FORGE_HTTP=httpx`` opts out."""
    if os.environ.get("SAMPLE_FORGE_HTTP", "").lower() == "httpx":
        return None
    try:
        import aiohttp  # noqa: F401
        from openai import DefaultAioHttpClient
    except ImportError:
        return None
    try:
        return DefaultAioHttpClient(timeout=timeout)
    except RuntimeError:  # openai without its aiohttp vendor module
        return None


def parse_chat_body(body: bytes) -> ChatReply:
    """A chat-completions JSON body -> ChatReply; MalformedResponse when it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedResponse(f"body is not JSON ({len(body)} bytes): {body[:60]!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise MalformedResponse(f"no 'choices' in the body: {body[:60]!r}")
    choices = sorted(data["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
    out: list[tuple[str | None, str | None]] = []
    for ch in choices:
        if not isinstance(ch, dict):
            raise MalformedResponse("a choice is not an object")
        msg = ch.get("message") or {}
        text = msg.get("content") if isinstance(msg, dict) else None
        out.append((text if isinstance(text, str) else None, ch.get("finish_reason")))
    usage = data.get("usage") or {}
    return ChatReply(
        choices=out,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        model=str(data.get("model") or ""),
    )


def _connect_failure(exc: BaseException) -> str | None:
    """The message of a connection failure (refused, DNS, ...) hidden in the exception chain."""
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (ConnectionRefusedError, socket.gaierror)) or type(e).__name__ in (
            "ClientConnectorError",
            "ClientConnectorDNSError",
        ):
            return str(e)
        e = e.__cause__ or e.__context__
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
