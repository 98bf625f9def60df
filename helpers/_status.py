"""What the lab is running on: database, channel layer, cache, Redis, server."""

from __future__ import annotations

import html
from dataclasses import dataclass

from helpers._django import setup_django


@dataclass(frozen=True)
class LabStatus:
    database: str
    channel_layer: str
    cache: str
    redis: str
    server: str
    notice: str | None

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("database", self.database),
            ("channel layer", self.channel_layer),
            ("cache", self.cache),
            ("redis", self.redis),
            ("server", self.server),
        ]

    def __str__(self) -> str:
        lines = [f"{name:>13}: {value}" for name, value in self.rows()]
        if self.notice:
            lines.append(self.notice)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:right'>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
            for k, v in self.rows()
        )
        notice = f"<p><em>{html.escape(self.notice)}</em></p>" if self.notice else ""
        return f"<table>{body}</table>{notice}"


def status() -> LabStatus:
    """A snapshot of what this process's lab is using (displays as a table in a notebook)."""
    setup_django()
    from django.conf import settings

    from helpers._server import current_server
    from lab_project.config import redact

    db = settings.DATABASES["default"]
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    name = str(db["NAME"])
    database = f"{engine}: {name}" if engine == "sqlite3" else f"{engine}: {db.get('HOST') or 'local socket'}/{name}"
    lab = settings.LAB
    try:
        server = current_server()
    except RuntimeError:  # no running loop (called from plain Python)
        server = None
    return LabStatus(
        database=database,
        channel_layer=settings.CHANNEL_LAYERS["default"]["BACKEND"],
        cache=settings.CACHES["default"]["BACKEND"],
        redis=redact(lab.redis_url) if lab.redis_url else "not used",
        server=server.url if server else "not running",
        notice=lab.notice,
    )
