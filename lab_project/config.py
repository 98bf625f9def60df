"""Every environment variable the lab reads, read in one place.

Safe local defaults: a SQLite file in the lab's data folder, and Redis wherever it answers.

Redis, one rule for every process and chapter (``redis_choice``):

* ``REDIS_URL`` unset (or empty): try the address ``docker compose up -d`` gives it,
  ``redis://127.0.0.1:6379/0``, and use Redis if it answers a PING;
* ``REDIS_URL=redis://...``: use that Redis if it answers;
* ``REDIS_URL=off`` (or ``none``, ``no``, ``false``, ``0``): no Redis, on purpose.

PostgreSQL (chapter 17, and ``DATABASE_URL=postgres://...`` for every chapter):

* ``LAB_DB_POOL``: Django's own connection pool (psycopg_pool) on PostgreSQL. Default ``on``
  (``DEFAULT_POOL_SIZE`` connections at most per process); a number sets that maximum; ``off``
  opens one connection per thread, as stock Django does;
* ``LAB_DB_BACKEND``: ``django`` (default) or ``async`` (django-async-backend: native async
  queries on ``Model.async_objects``, ``async_atomic``; PostgreSQL only);
* ``LAB_DB_CONN_MAX_AGE``: seconds a connection may be kept (only without a pool; default 0);
* ``LAB_POSTGRES_URL``: where the PostgreSQL-only parts (chapter 17, tests marked ``postgres``)
  find a server when ``DATABASE_URL`` is not PostgreSQL; unset, the compose file's address and
  then a local server's ``postgres`` role are tried (``postgres_choice``).

Without Redis the lab falls back to the in-memory channel layer and the local-memory cache, so
a newcomer without Docker still gets a working lab. ``lab.status()`` then says so in one line
(``LabConfig.notice``); importing the settings prints nothing, so the line appears once.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


# A lab process that gives itself a database of its own (helpers.server.database) exports it
# as DATABASE_URL, so the servers and workers it starts use it too, and records here which
# value it exported and what the user's own choice was (empty: the default SQLite file). A
# process that inherits them and asks for a fresh database of its own (a notebook kernel
# started by the test suite) can tell the two apart.
KERNEL_DATABASE_ENV = "LAB_KERNEL_DATABASE_URL"
SHARED_DATABASE_ENV = "LAB_SHARED_DATABASE_URL"


def shared_database_url() -> str | None:
    """The database the user chose with ``DATABASE_URL``; None means the default SQLite file.

    A ``DATABASE_URL`` that a lab kernel exported for its own children is not the user's choice.
    """
    url = os.environ.get("DATABASE_URL") or None
    if url is not None and url == os.environ.get(KERNEL_DATABASE_ENV):
        return os.environ.get(SHARED_DATABASE_ENV) or None
    return url


def default_database_path(folder: Path) -> Path:
    """The shared SQLite file used when ``DATABASE_URL`` is unset."""
    return folder / "lab.sqlite3"


def data_dir() -> Path:
    """Folder for the lab's SQLite file and generated secret (``LAB_DATA_DIR``)."""
    path = Path(os.environ.get("LAB_DATA_DIR") or PROJECT_ROOT / ".lab-data").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(folder: Path) -> str:
    """``DJANGO_SECRET_KEY``, or a key generated once per install into the data folder.

    Generated rather than committed: a key in the repository would be a key anybody can read.
    """
    from_env = os.environ.get("DJANGO_SECRET_KEY")
    if from_env:
        return from_env
    key_file = folder / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        # O_EXCL: two processes starting at once must not write two different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return key_file.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


# Where the compose file publishes Redis: the address tried when REDIS_URL is unset.
COMPOSE_REDIS_URL = "redis://127.0.0.1:6379/0"
# Values of REDIS_URL that switch Redis off (compared lower-cased, spaces stripped).
REDIS_OFF = frozenset({"off", "none", "no", "false", "0"})


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server at ``url`` answers PING within ``timeout`` seconds.

    A raw socket rather than redis-py: settings are imported in many processes and this must
    stay cheap and never hang.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ValueError(f"REDIS_URL={url!r} must start with redis:// or rediss://")
    if parts.scheme == "rediss":
        return True  # TLS needs a real client; trust the user's URL.
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout) as sock:
            sock.settimeout(timeout)
            if parts.password:
                user = parts.username or "default"
                sock.sendall(f"AUTH {user} {parts.password}\r\n".encode())
                if not sock.recv(64).startswith(b"+OK"):
                    return False
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


# The channel layer the chat runs on (``LAB_CHANNEL_LAYER``), when Redis answers. Chapter 13's
# fan-out benchmark (``lab-bench --only chat_fanout``) measures every choice; the default
# is the one the README recommends. Without Redis the lab always uses "memory".
CHANNEL_LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer (msgpack)",
    "core-json": "channels_redis.core.RedisChannelLayer (serializer_format='json')",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer (msgpack)",
    "memory": "channels.layers.InMemoryChannelLayer (one process only)",
}
RECOMMENDED_CHANNEL_LAYER = "core"


def channel_layer_choice(uses_redis: bool) -> str:
    raw = (os.environ.get("LAB_CHANNEL_LAYER") or "").strip().lower()
    if raw and raw not in CHANNEL_LAYERS:
        raise ValueError(f"LAB_CHANNEL_LAYER={raw!r} is not a channel layer: use one of {', '.join(CHANNEL_LAYERS)}.")
    if not uses_redis:
        return "memory"
    return raw or RECOMMENDED_CHANNEL_LAYER


def redact(url: str) -> str:
    """The URL with any password replaced, safe to print in a notebook output."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


# -- PostgreSQL ---------------------------------------------------------------------------------
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql", "postgis"})
# Tried in this order when LAB_POSTGRES_URL is unset: the compose file's server, then a local
# server's default superuser (what `apt install postgresql` gives, and what CI runs).
POSTGRES_CANDIDATES = ("postgres://lab@127.0.0.1:5432/lab", "postgres://postgres@127.0.0.1:5432/lab")
DB_BACKENDS = {
    "django": "django.db.backends.postgresql (the a-methods run the sync driver on threads)",
    "async": "django_async_backend.db.backends.postgresql (native async queries on async_objects)",
}
# Connections one process may hold: chapter 2's burst of 200 requests queues for these instead
# of opening 200 (a stock PostgreSQL refuses the 101st). Several lab processes share a server.
DEFAULT_POOL_SIZE = 10
# How long a request waits for a pooled connection before the lab answers 503 (never a hang);
# LAB_DB_POOL_TIMEOUT overrides it (seconds).
POOL_TIMEOUT_S = 10.0


def is_postgres(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in POSTGRES_SCHEMES


def postgres_answers(url: str, timeout: float = 1.0) -> bool:
    """True when the PostgreSQL server of ``url`` accepts this role (on its ``postgres`` database).

    The maintenance database rather than the URL's: the lab creates its own databases there.
    """
    import psycopg

    parts = urlsplit(url)
    try:
        with psycopg.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=parts.username or None,
            password=parts.password or None, dbname="postgres", connect_timeout=max(1, round(timeout)),
        ):  # fmt: skip
            return True
    except psycopg.Error:
        return False


def postgres_choice() -> tuple[str | None, list[str]]:
    """(a PostgreSQL URL that answers or None, the URLs tried).

    ``DATABASE_URL`` first when it names PostgreSQL, then ``LAB_POSTGRES_URL``, then the
    default addresses. Called by what needs PostgreSQL (chapter 17, the tests), not by settings.
    """
    shared = shared_database_url()
    if is_postgres(shared):
        candidates = [shared]
    elif os.environ.get("LAB_POSTGRES_URL"):
        candidates = [os.environ["LAB_POSTGRES_URL"]]
    else:
        candidates = list(POSTGRES_CANDIDATES)
    for url in candidates:
        if postgres_answers(url):
            return url, candidates
    return None, candidates


def pool_size() -> int:
    """``LAB_DB_POOL``: the pool's maximum size; 0 means no pool."""
    raw = (os.environ.get("LAB_DB_POOL") or "on").strip().lower()
    if raw in {"on", "1", "true", "yes"}:
        return DEFAULT_POOL_SIZE
    if raw in {"off", "0", "false", "no", "none"}:
        return 0
    if raw.isdigit() and 2 <= int(raw) <= 1000:
        return int(raw)
    raise ValueError(f"LAB_DB_POOL={raw!r}: use on, off, or the pool's maximum size (2 to 1000).")


def pool_timeout() -> float:
    raw = (os.environ.get("LAB_DB_POOL_TIMEOUT") or "").strip()
    try:
        value = float(raw) if raw else POOL_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise ValueError(f"LAB_DB_POOL_TIMEOUT={raw!r} must be a number of seconds between 0 and 600.")
    return value


def db_backend_choice(database_url: str) -> str:
    """``LAB_DB_BACKEND``: a key of ``DB_BACKENDS``; the async one only on PostgreSQL."""
    from django.core.exceptions import ImproperlyConfigured

    raw = (os.environ.get("LAB_DB_BACKEND") or "django").strip().lower()
    if raw not in DB_BACKENDS:
        raise ImproperlyConfigured(f"LAB_DB_BACKEND={raw!r} is not a database backend: use one of {', '.join(DB_BACKENDS)}.")
    if raw == "async" and not is_postgres(database_url):
        raise ImproperlyConfigured(
            f"LAB_DB_BACKEND=async needs PostgreSQL, but the database is {redact(database_url)}: "
            "set DATABASE_URL=postgres://... (docker compose up -d starts one), or unset LAB_DB_BACKEND."
        )
    return raw


def conn_max_age() -> int:
    raw = (os.environ.get("LAB_DB_CONN_MAX_AGE") or "0").strip()
    if not raw.isdigit():
        raise ValueError(f"LAB_DB_CONN_MAX_AGE={raw!r} must be a whole number of seconds.")
    return int(raw)


@dataclass(frozen=True)
class LabConfig:
    data_dir: Path
    database_url: str
    redis_url: str | None  # the Redis in use, None when none is
    redis_requested: str | None  # the address tried (REDIS_URL, or the compose one); None when off
    debug: bool
    allowed_hosts: list[str] = field(default_factory=list)
    anonymous_chat: bool = True
    redis_prefix: str = "lab"
    channel_layer: str = "memory"  # a key of CHANNEL_LAYERS
    db_backend: str = "django"  # a key of DB_BACKENDS
    db_pool_size: int = 0  # 0: no pool (and always 0 off PostgreSQL)
    db_pool_timeout: float = POOL_TIMEOUT_S
    db_conn_max_age: int = 0

    @property
    def uses_redis(self) -> bool:
        return self.redis_url is not None

    @property
    def notice(self) -> str | None:
        """One plain line for the user when Redis is not in use, else None."""
        if self.uses_redis:
            return None
        fallback = "using the in-memory channel layer and the local-memory cache"
        if self.redis_requested is None:
            return f"lab: Redis is switched off (REDIS_URL={os.environ.get('REDIS_URL', '').strip()}); {fallback}."
        if self.redis_requested == COMPOSE_REDIS_URL:
            advice = "for Redis, run docker compose up -d and restart the kernel"
        else:
            advice = "start that Redis (or change REDIS_URL) and restart the kernel"
        return f"lab: no Redis answered at {redact(self.redis_requested)}; {fallback}; {advice}."


def redis_choice() -> tuple[str | None, str | None]:
    """(the Redis URL to use or None, the URL that was tried or None when switched off)."""
    raw = (os.environ.get("REDIS_URL") or "").strip()
    if raw.lower() in REDIS_OFF:
        return None, None
    requested = raw or COMPOSE_REDIS_URL
    return (requested if redis_answers(requested) else None), requested


def load() -> LabConfig:
    folder = data_dir()
    reachable, requested = redis_choice()
    hosts = os.environ.get("LAB_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{default_database_path(folder)}"
    max_age = conn_max_age()
    pool = pool_size() if is_postgres(database_url) else 0
    if pool and max_age:
        raise ValueError(f"LAB_DB_CONN_MAX_AGE={max_age} needs LAB_DB_POOL=off: Django's pool refuses persistent connections.")
    return LabConfig(
        data_dir=folder,
        database_url=database_url,
        redis_url=reachable,
        redis_requested=requested,
        debug=_flag("LAB_DEBUG", True),
        allowed_hosts=[h.strip() for h in hosts.split(",") if h.strip()],
        anonymous_chat=_flag("LAB_CHAT_ALLOW_ANONYMOUS", True),
        # Keys and channel names carry this prefix, so parallel runs on one Redis stay apart.
        redis_prefix=os.environ.get("LAB_REDIS_PREFIX", "lab"),
        channel_layer=channel_layer_choice(reachable is not None),
        db_backend=db_backend_choice(database_url),
        db_pool_size=pool,
        db_pool_timeout=pool_timeout(),
        db_conn_max_age=max_age,
    )
