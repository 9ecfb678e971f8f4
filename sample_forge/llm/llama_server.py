"""``python -m sample_forge.llm.llama_server ARGS``: llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server ARGS``, the same options) with plain CPU buffers, see llama_compat."""

from __future__ import annotations

from sample_forge.llm.llama_compat import plain_cpu_buffers

if __name__ == "__main__":
    plain_cpu_buffers()
    from llama_cpp.server.__main__ import main

    main()
