"""What the lab is running on: database, channel layer, cache, Redis, server."""

from __future__ import annotations

import html
from dataclasses import dataclass

from helpers.server.database import setup_django

__all__ = ["LabStatus", "status"]


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
        # Explicit alignment: JupyterLab's table style right-aligns cells, which leaves values
        # of different lengths ragged. Names on the left, values left-aligned in monospace.
        cell = "text-align:left; padding:2px 12px 2px 0; vertical-align:top"
        body = "".join(
            f"<tr><th style='{cell}'>{html.escape(name)}</th>"
            f"<td style='{cell}; font-family:monospace'>{html.escape(value)}</td></tr>"
            for name, value in self.rows()
        )
        # The notice is an ordinary line of text, not a warning: the lab works without Redis.
        notice = f"<p>{html.escape(self.notice)}</p>" if self.notice else ""
        return f"<table>{body}</table>{notice}"


def status() -> LabStatus:
    """A snapshot of what this process's lab is using (displays as a table in a notebook)."""
    setup_django()
    from django.conf import settings

    from helpers.server.kernel import current_server
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
