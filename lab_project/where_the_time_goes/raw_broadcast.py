"""The floor for chat fan-out: a bare ``websockets`` server relaying each message to everyone.

    python -m lab_project.where_the_time_goes.raw_broadcast --port 8765

It speaks the chat's wire format (a client sends ``{"type": "message", "text": ...}``, everyone
connected gets ``{"type": "message", "user", "text", "id"}``) and fans out with the websockets
library's own ``broadcast()``: one JSON encoding, then one buffered write per connection, no
framework, no channel layer, no database. Every path is one room. No origin check, no limits:
it is a measuring stick for ``helpers.bench.fanout``, never something to serve with.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve

members: set[ServerConnection] = set()
next_id = itertools.count(1)


async def relay(connection: ServerConnection) -> None:
    query = parse_qs(urlsplit(connection.request.path).query)
    user = query.get("name", ["guest"])[0]
    members.add(connection)
    try:
        async for frame in connection:
            text = json.loads(frame).get("text")
            payload = {"type": "message", "user": user, "text": text, "id": next(next_id)}
            broadcast(members, json.dumps(payload))
    finally:
        members.discard(connection)


async def main(host: str, port: int) -> None:
    # max_size and compression as uvicorn's defaults leave them for the lab (no compression
    # negotiated by the bench's clients either way).
    async with serve(relay, host, port, compression=None) as server:
        print(f"raw broadcast on ws://{host}:{port}/", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop  # the loop uvicorn picks for the lab's servers when it is installed

        uvloop.run(main(args.host, args.port))
    except ImportError:
        asyncio.run(main(args.host, args.port))
