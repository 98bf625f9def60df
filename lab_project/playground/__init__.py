"""Views and consumers a notebook cell mounts on the running server (chapter 18).

Everything mounted lives under ``try/`` (HTTP) and ``ws/try/`` (WebSocket), resolved against
the mutable registry in ``registry.py``: a cell can add, replace and remove routes while the
server runs, and no mount can ever shadow one of the lab's own URLs.
"""
