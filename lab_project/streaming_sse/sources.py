"""The async generators behind chapter 5's endpoints: text chunks, ticking events and tokens.

Each yields its first piece at once and then awaits between pieces, so the time a client
receives each piece shows whether the server streamed it or held it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator

from lab_project.streaming_sse.sse import sse_event


async def text_chunks(count: int, delay: float) -> AsyncGenerator[str]:
    for n in range(1, count + 1):
        if n > 1:
            await asyncio.sleep(delay)
        yield f"chunk {n} of {count}\n"


async def tick_events(count: int, interval: float, *, after_id: int = 0) -> AsyncGenerator[str]:
    """``tick`` events with ids ``after_id + 1`` .. ``count``, then one ``done`` event.

    ``after_id`` is the client's ``Last-Event-ID``: a reconnecting client resumes where it
    left off instead of starting again.
    """
    for n in range(after_id + 1, count + 1):
        if n > after_id + 1:
            await asyncio.sleep(interval)
        yield sse_event({"n": n, "of": count}, event="tick", id=n)
    yield sse_event({"ticks": count - after_id}, event="done")


def answer_tokens(prompt: str) -> list[str]:
    """A fixed answer to ``prompt`` cut into word tokens: the same prompt, the same tokens."""
    answer = (
        f"You asked: {prompt} Here is the answer, one token at a time, the way a language "
        "model sends it: the reader starts before the writer has finished."
    )
    return re.findall(r"\S+\s*", answer)


async def tokens(prompt: str, delay: float) -> AsyncGenerator[str]:
    for index, token in enumerate(answer_tokens(prompt)):
        if index:
            await asyncio.sleep(delay)  # stands in for the model computing the next token
        yield token


async def token_events(prompt: str, delay: float) -> AsyncGenerator[str]:
    """``tokens`` as SSE: one ``token`` event per token, then ``done`` with the full text."""
    text = []
    async with contextlib.aclosing(tokens(prompt, delay)) as stream:
        async for token in stream:
            text.append(token)
            yield sse_event({"token": token}, event="token", id=len(text))
    yield sse_event({"tokens": len(text), "text": "".join(text)}, event="done")
