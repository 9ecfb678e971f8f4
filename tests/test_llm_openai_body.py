"""The OpenAI backend posts its chat body as built, without the SDK's TypedDict param transform that
``chat.completions.create`` runs first. That is right only while the transform is the identity on every
body the backend sends: this checks it on each shape (n, seed, both structured-output modes, a chat
with non-ASCII text), so an SDK whose transform starts renaming or converting one of these keys fails
here instead of sending another body than `create` would."""

from __future__ import annotations

import asyncio

import pytest

from sample_forge.llm.schema import response_format

transform = pytest.importorskip("openai._utils").async_maybe_transform
params = pytest.importorskip("openai.types.chat.completion_create_params")

SCHEMA = {
    "title": "skill tags",
    "type": "object",
    "properties": {"skills": {"type": "array", "items": {"type": "string", "maxLength": 80}}},
    "required": ["skills"],
}
MESSAGES = [
    {"role": "system", "content": "You tag math problems."},
    {"role": "user", "content": "Résous $x^2 = 4$ — réponse dans \\boxed{}."},
]


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"n": 16, "seed": 7},
        {"response_format": response_format("json_schema", SCHEMA)},
        {"response_format": response_format("json_object", SCHEMA), "seed": 0},
    ],
    ids=["plain", "n-seed", "json_schema", "json_object"],
)
def test_the_sdk_transform_leaves_our_body_as_it_is(extra: dict) -> None:
    body = {"model": "m", "messages": MESSAGES, "temperature": 1.0, "max_tokens": 64, **extra}
    sent = asyncio.run(transform(body, params.CompletionCreateParamsNonStreaming))
    assert sent == body
