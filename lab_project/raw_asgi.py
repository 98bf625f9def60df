"""The floor under every Django number in the lab: an ASGI app with no framework at all.

It answers every path, ``/health/`` included (the process helper polls it), with the same bytes
as chapter 10's ``trivial_async`` view. Served by the same uvicorn, whatever a Django view costs
beyond it is Django's per-request work: request object, middleware, URL resolving, signals, and
the threads its sync parts run on. Chapters 10 and 13 both measure against it.

    uvicorn lab_project.raw_asgi:app
"""

# Imports nothing from Django: the point is to measure the server alone.
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
    # Read the request to its end, as Django does, so the floor skips no work a view cannot.
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": TRIVIAL_BODY})
