"""The floor for chapter 13: an ASGI app answering JSON with no framework at all.

uvicorn lab_project.where_the_time_goes.raw_app:application
"""


async def application(scope, receive, send):
    if scope["type"] != "http":
        return  # no lifespan support needed: uvicorn carries on without it
    await receive()
    body = b'{"ok": true, "view": "raw"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
