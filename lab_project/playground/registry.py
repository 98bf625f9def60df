"""The mutable route tables behind ``try/`` and ``ws/try/``.

``http_patterns`` *is* the ``urlpatterns`` list of ``lab_project.playground.urls``: Django's
resolver keeps a reference to that list, so changing it in place (never rebinding it) is
seen by the next request. Reversing by name is cached, though, so every change also clears
those caches (``_forget_resolved``).
"""

from __future__ import annotations

from django.urls import URLPattern, clear_url_caches

HTTP_PREFIX = "try/"
WS_PREFIX = "ws/try/"

http_patterns: list[URLPattern] = []  # relative to HTTP_PREFIX
ws_patterns: list[URLPattern] = []  # relative to WS_PREFIX
version = 0  # bumped on every change, so the WebSocket router rebuilds its table


def replace_http(route: str, pattern: URLPattern | None) -> bool:
    """Put ``pattern`` where ``route`` was mounted (or append it); ``None`` removes. True if it existed."""
    return _replace(http_patterns, route, pattern)


def replace_ws(route: str, pattern: URLPattern | None) -> bool:
    return _replace(ws_patterns, route, pattern)


def _replace(table: list[URLPattern], route: str, pattern: URLPattern | None) -> bool:
    global version
    index = next((i for i, known in enumerate(table) if str(known.pattern) == route), None)
    if index is None and pattern is not None:
        table.append(pattern)
    elif index is not None and pattern is not None:
        table[index] = pattern
    elif index is not None:
        del table[index]
    version += 1
    _forget_resolved()
    return index is not None


def clear() -> None:
    global version
    http_patterns.clear()
    ws_patterns.clear()
    version += 1
    _forget_resolved()


def _forget_resolved() -> None:
    """Drop Django's cached reverse tables so ``reverse()`` sees the change.

    ``clear_url_caches`` forgets the root resolver; the ``include()`` resolver for ``try/`` is a
    module-level object in lab_project.urls that keeps its own populated tables, so reset it too.
    """
    clear_url_caches()
    from django.urls import URLResolver

    from lab_project import urls as root

    for entry in root.urlpatterns:
        if isinstance(entry, URLResolver) and getattr(entry.urlconf_module, "urlpatterns", None) is http_patterns:
            entry._populated = False
            entry._reverse_dict.clear()
            entry._namespace_dict.clear()
            entry._app_dict.clear()
            entry._callback_strs = set()
