"""Any OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, llama.cpp server, ...) via ``AsyncOpenAI``.

The openai client retries 429/408/409/5xx, timeouts and connection errors itself (``max_retries``,
exponential backoff with jitter, honouring ``Retry-After``); the body is parsed here (raw response, no
pydantic) so a truncated or empty 200 answer becomes a MalformedResponse that the layer retries.
A request's JSON schema goes out as ``response_format`` in the model's ``structured_mode``. With
``structured_output = "auto"`` the first schema call of a process is a probe sent without the client's
retries: an error about the ``response_format`` (400/422, or the 500 that llama-cpp-python's server
answers to ``json_schema``) steps the mode down (json_schema, json_object, none) for the rest of the
process and the call is sent again; any other error sends it again with the usual retries.

Replicas (``base_url`` a list): each has its own client and ``max_concurrency`` slots; a call goes to a
replica that is due a probe, else to the least busy one. A replica fault (connection refused, timeout,
408/409/429/5xx once the client's retries are spent) takes the replica out for ``cooldown`` seconds
(doubling per failed probe, at most 10 min) and the call is sent to another replica; after the
cool-down one call probes it. A call fails only when every replica failed it or is resting. The
request never knew which replica it went to: the cache key holds the model's first URL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import orjson

from sample_forge.llm.base import Call, ChatReply, LLMError, MalformedResponse, Model, log
from sample_forge.llm.config import safe_url
from sample_forge.llm.schema import response_format

__all__ = ["OpenAIModel", "Replica", "ReplicaFault"]

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
_STEP_DOWN = {"json_schema": "json_object", "json_object": "none"}
MAX_COOLDOWN_S = 600.0


class ReplicaFault(LLMError):
    """The endpoint, not the request, failed (refused, timeout, 408/409/429/5xx after the client's
    retries): another replica may answer the same call."""


@dataclass(eq=False)
class Replica:
    """One endpoint of a model: its client, its slots and its health."""

    url: str
    shown: str = ""  # the url with credentials masked, computed once (it goes on every call's log row)
    client: Any = None
    sem: asyncio.Semaphore | None = None
    in_flight: int = 0
    down_until: float = 0.0  # time.monotonic(); 0 = up
    cooldown: float = 0.0
    probing: bool = False
    answered: int = 0
    faults: int = 0
    last_error: str | None = None

    @property
    def up(self) -> bool:
        return self.down_until == 0.0


class _SchemaRejected(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code, self.message = status_code, message


class OpenAIModel(Model):
    _probed = False  # "auto": the current structured mode was accepted once in this process
    _replicas: list[Replica] | None = None

    @property
    def endpoint(self) -> str:
        return (self.config.base_url or OPENAI_DEFAULT_URL).rstrip("/")

    @property
    def replicas(self) -> list[Replica]:
        if self._replicas is None:
            urls = [(u or OPENAI_DEFAULT_URL).rstrip("/") for u in self.config.base_urls]
            self._replicas = [Replica(u, safe_url(u) or "") for u in urls]
        return self._replicas

    @property
    def concurrency(self) -> int:
        return max(1, self.config.max_concurrency) * len(self.replicas)

    def _api_key(self) -> str:
        env = self.config.api_key_env
        if not env:
            return "no-key"  # local servers ignore it; the client insists on one
        key = os.environ.get(env)
        if not key:
            raise LLMError(f"model '{self.name}': environment variable {env} (its api_key_env) is not set")
        return key

    def _get_client(self, replica: Replica) -> Any:
        if replica.client is None:
            from openai import AsyncOpenAI

            replica.client = AsyncOpenAI(
                api_key=self._api_key(),
                base_url=replica.url,
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
                http_client=_http_client(self.config.timeout),
            )
        return replica.client

    def _forget_client(self) -> None:
        self._replicas = None  # clients and semaphores belong to the parent's loop

    async def _aclose(self) -> None:
        for r in self._replicas or []:
            if r.client is not None:
                await r.client.close()
                r.client = None

    def _pick(self, tried: set[int]) -> int | None:
        """The replica for the next call: one due a probe first (so a rested replica comes back even
        while others are up), else the up replica with the fewest calls in flight; None when every
        replica failed this call or is resting."""
        now = time.monotonic()
        best: int | None = None
        for i, r in enumerate(self.replicas):
            if i in tried:
                continue
            if not r.up:
                if not r.probing and now >= r.down_until:
                    r.probing = True
                    return i
                continue
            if best is None or r.in_flight < self.replicas[best].in_flight:
                best = i
        return best

    def _fault(self, r: Replica, err: LLMError) -> None:
        r.faults += 1
        r.last_error = str(err)
        if r.probing or r.up:
            r.cooldown = self.config.cooldown if r.up else min(2 * r.cooldown, MAX_COOLDOWN_S)
            r.down_until = time.monotonic() + r.cooldown
            r.probing = False
            log.warning("model %s: replica %s taken out for %gs: %s", self.name, r.shown, r.cooldown, err)

    def _healthy(self, r: Replica) -> None:
        r.answered += 1
        if not r.up:
            log.warning("model %s: replica %s is back", self.name, r.shown)
        r.down_until, r.cooldown, r.probing = 0.0, 0.0, False

    async def _asend(self, call: Call, probe: bool) -> ChatReply:
        """One call on a replica, failing over to the others on a replica fault."""
        reps = self.replicas
        if len(reps) == 1:
            return await self._achat_once(reps[0], call, probe)
        tried: set[int] = set()
        last: LLMError | None = None
        while True:
            i = self._pick(tried)
            if i is None:
                resting = sum(not r.up for r in reps)
                raise LLMError(
                    f"model '{self.name}': every replica failed this call or is resting "
                    f"({resting} of {len(reps)} taken out); last error: {last}"
                )
            r = reps[i]
            if r.sem is None:  # created on the loop thread, the only one using it
                r.sem = asyncio.Semaphore(max(1, self.config.max_concurrency))
            r.in_flight += 1
            try:
                async with r.sem:
                    reply = await self._achat_once(r, call, probe)
            except ReplicaFault as e:
                self._fault(r, e)
                tried.add(i)
                last = e
                continue
            except BaseException:
                r.probing = False  # not the endpoint's fault: probe again with the next call
                raise
            finally:
                r.in_flight -= 1
            self._healthy(r)
            return reply

    async def _achat(self, call: Call) -> ChatReply:
        while True:
            mode = self.structured_mode
            probe = call.schema is not None and self.config.structured_output == "auto" and not self._probed
            try:
                reply = await self._asend(call, probe)
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
                call = dataclasses.replace(call, schema=None)

    async def _achat_once(
        self,
        replica: Replica,
        call: Call,
        probe: bool = False,
    ) -> ChatReply:
        import openai

        client = self._get_client(replica)
        where = replica.shown
        if probe:
            client = client.with_options(max_retries=0)
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "messages": call.messages,
            "temperature": call.temperature,
            "max_tokens": call.max_tokens,
        }
        if call.n != 1:
            kwargs["n"] = call.n
        if call.seed is not None:
            kwargs["seed"] = call.seed
        if call.schema is not None and self.supports_schema:
            kwargs["response_format"] = response_format(self.structured_mode, call.schema)
        tries = self.config.max_retries
        try:
            # the body as it is: the SDK's create() would first walk it through its TypedDict param
            # transform, the identity on these keys (tests/test_llm_openai_body.py) and a third of
            # the layer's CPU per request against a fast server
            raw = await client.post("/chat/completions", body=kwargs, cast_to=_response_class())
        except openai.APIStatusError as e:
            about_format = e.status_code in (400, 422) or "response_format" in str(e.message)
            if "response_format" in kwargs and about_format:
                raise _SchemaRejected(e.status_code, e.message) from None
            cls = ReplicaFault if e.status_code in (408, 409, 429) or e.status_code >= 500 else LLMError
            raise cls(
                f"HTTP {e.status_code} from {where} after {tries} retries: {_short(e.message)}"
            ) from None
        except openai.APITimeoutError as e:
            refused = _connect_failure(e)
            if refused is not None:  # the aiohttp transport reports a refused connection as a timeout
                raise ReplicaFault(
                    f"cannot connect to {where} after {tries} retries: {_short(refused)}"
                ) from None
            raise ReplicaFault(
                f"timed out after {self.config.timeout:g}s from {where} ({tries} retries)"
            ) from None
        except openai.APIConnectionError as e:
            raise ReplicaFault(
                f"cannot connect to {where} after {tries} retries: {_short(str(e.__cause__ or e))}"
            ) from None
        body = raw.content
        reply = parse_chat_body(body)
        reply.endpoint = where
        return reply


@functools.cache
def _response_class() -> type:
    """The HTTP response class of the openai SDK's transport (httpx2 in openai 3, httpx before): a
    ``post`` cast to it returns the response itself, unparsed."""
    from openai import _base_client

    return (getattr(_base_client, "httpx2", None) or _base_client.httpx).Response


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
