"""The smallest ASGI app that gives the same answer as ``trivial_async``: no framework at all.

Served by the same uvicorn, it is the floor under Django's numbers: whatever a Django view
costs beyond this is Django's per-request work (request object, middleware, URL resolving,
signals, the threads its sync parts run on).

    uvicorn lab_project.when_async_helps.raw_asgi:app
"""

# Imports nothing from Django: the point is to measure uvicorn alone.
TRIVIAL_BODY = b'{"ok": true}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(TRIVIAL_BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    # Every path answers the same, /health/ included (the process helper polls it).
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": TRIVIAL_BODY})
