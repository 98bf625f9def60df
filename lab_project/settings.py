"""Django settings for lab_project. Environment variables are read in ``config.py`` only."""

import dj_database_url

from lab_project import config

LAB = config.load()

BASE_DIR = config.PROJECT_ROOT
SECRET_KEY = config.secret_key(LAB.data_dir)
DEBUG = LAB.debug
ALLOWED_HOSTS = LAB.allowed_hosts
# Loopback origins only: the lab's pages and cells talk to their own server.
CSRF_TRUSTED_ORIGINS = [f"http://{h}" for h in ALLOWED_HOSTS if h != "*"]

# One app per chapter family; the app, its notebook and its tests share one name.
LAB_APPS = [
    "lab_project.start_here",
    "lab_project.async_views",
    "lab_project.async_orm",
    "lab_project.bridges",
    "lab_project.slow_upstream",
    "lab_project.http_clients",
    "lab_project.streaming_sse",
    "lab_project.middleware",
    "lab_project.signals",
    "lab_project.cache",
    "lab_project.chat",
    "lab_project.when_async_helps",
    "lab_project.common_mistakes",
    "lab_project.where_the_time_goes",
    "lab_project.auth_sessions",
    "lab_project.testing_async",
    "lab_project.background_tasks",
    "lab_project.async_database",
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_tasks_db",  # the task table the database backend (chapter 15) keeps its queue in
    *LAB_APPS,
]

# Django's bundled middleware is sync- and async-capable, so Django logs no adaptation for
# this stack. It is not free under ASGI, though: MiddlewareMixin runs each process_request /
# process_response hook through sync_to_async, a thread hop per hook (chapter 6 counts them,
# and switches a sync-only middleware in to show what a real adaptation adds).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "lab_project.urls"
ASGI_APPLICATION = "lab_project.asgi.application"
WSGI_APPLICATION = "lab_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(LAB.database_url, conn_max_age=LAB.db_conn_max_age)}
if LAB.db_backend == "async":
    # django-async-backend: the same sync DatabaseWrapper for migrations and the a-methods, plus
    # AsyncDatabaseWrapper (async_connections) for the native async_objects queries.
    DATABASES["default"]["ENGINE"] = "django_async_backend.db.backends.postgresql"
    INSTALLED_APPS.append("django_async_backend")  # patches every model with async_objects
    # Its warning about pools under WSGI fires on every sync connection, migrations included;
    # the lab serves async backends under ASGI only (chapter 17 shows why).
    ASYNC_BACKEND_DISABLE_POOL_WARNING = True
if LAB.db_pool_size:
    # Django's own pool (psycopg_pool, Django 5.1+): a request borrows a connection and gives it
    # back when it ends, so a burst of requests queues for a few connections instead of opening
    # one each past max_connections. The async backend opens a second pool, an async one, from
    # these same options: each gets half, so the process stays within LAB_DB_POOL.
    pool_max = LAB.db_pool_size // 2 if LAB.db_backend == "async" else LAB.db_pool_size
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": max(pool_max, 1),
        "timeout": LAB.db_pool_timeout,  # then PoolTimeout, answered 503 by the middleware below
        "max_idle": 60,  # idle connections beyond min_size close after a minute
    }
if config.is_postgres(LAB.database_url):
    # Out of connections (pool timeout, or PostgreSQL's "too many clients") -> 503 with a reason.
    # PostgreSQL only, so the SQLite stack, and every output stored from it, is unchanged.
    MIDDLEWARE.append("lab_project.async_database.middleware.DatabaseBusyMiddleware")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent async requests write from several threads at once. WAL lets readers and a
    # writer coexist; IMMEDIATE transactions take the write lock up front so they wait for
    # it (busy timeout) instead of failing with "database is locked" on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, never ":memory:": an in-memory database is private to the thread that made it,
    # and the in-kernel server's views run on other threads.
    DATABASES["default"]["TEST"] = {"NAME": str(LAB.data_dir / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-tasks-db's own migrations cannot migrate a database other than "default"; the lab
# migrates its template database under another alias, so the task table gets one migration of
# the lab's own (see lab_project/background_tasks/queue_migrations/__init__.py).
MIGRATION_MODULES = {"django_tasks_database": "lab_project.background_tasks.queue_migrations"}

# Background tasks (chapter 15). "default" stays what Django uses when TASKS is unset, the
# ImmediateBackend: a task runs inline, inside enqueue(), so nothing outside chapter 15 needs a
# worker. The other aliases let chapter 15 put one task on each backend and compare them;
# "database" is the real queue: a table (django-tasks-db) that `manage.py db_worker`, a
# separate process, works through.
TASK_QUEUES = ["default", "reports"]
TASKS = {
    "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend", "QUEUES": TASK_QUEUES},
    "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend", "QUEUES": TASK_QUEUES},
    "dummy": {"BACKEND": "django.tasks.backends.dummy.DummyBackend", "QUEUES": TASK_QUEUES},
    "database": {"BACKEND": "lab_project.background_tasks.backends.DatabaseBackend", "QUEUES": TASK_QUEUES},
}

if LAB.uses_redis:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    # Which layer: LAB_CHANNEL_LAYER (config.CHANNEL_LAYERS; the default is the one chapter 13's
    # fan-out benchmark recommends).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Three redis-py 8 behaviours break channels_redis 4.3 (tests/robustness/test_faults.py pins them):
            # * socket_timeout became 5 s, as long as the layer's blocking BZPOPMIN (brpop_timeout
            #   = 5 s), so an idle consumer's receive loop died with TimeoutError every 5 s
            #   (django/channels_redis#422). 10 s outlasts it and still bounds a hung Redis.
            # * an asyncio pool holds at most 100 connections and fails the 101st concurrent
            #   command at once (MaxConnectionsError); 200 chat clients leaving together did.
            # * after a Redis restart, each connection left in the pool fails its next command,
            #   and pooled connections retry nothing by default. One retry on ConnectionError
            #   reconnects it (none on TimeoutError: a hung Redis would cost twice as long).
            "CONFIG": {
                "hosts": [
                    {
                        "address": LAB.redis_url,
                        "socket_timeout": 10,
                        "max_connections": 1000,
                        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                    }
                ],
                "prefix": LAB.redis_prefix,
            },
        }
    }
    if LAB.channel_layer == "core-json":
        CHANNEL_LAYERS["default"]["CONFIG"]["serializer_format"] = "json"
    elif LAB.channel_layer == "pubsub":
        # Same hosts (the pub/sub layer builds its pool from them too); it has no expiry or
        # capacity options: Redis pub/sub keeps nothing, a message nobody hears is gone.
        CHANNEL_LAYERS["default"]["BACKEND"] = "channels_redis.pubsub.RedisPubSubChannelLayer"
    elif LAB.channel_layer == "memory":
        CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": LAB.redis_url,
            "KEY_PREFIX": LAB.redis_prefix,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Chat (chapter 9): may a visitor who is not logged in chat under a name of their choosing?
CHAT_ALLOW_ANONYMOUS = LAB.anonymous_chat

SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Where login_required & co. send a visitor who is not logged in: the lab's own login page
# (chapter 14). Django's default, /accounts/login/, does not exist here.
LOGIN_URL = "auth_sessions:login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"

# Quiet by default so notebook outputs stay stable; chapter 6 raises django.request to DEBUG
# on purpose to read Django's middleware-adaptation messages.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "lab": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        # One INFO line per task state change, with a random id (the worker of chapter 15 logs them).
        "django.tasks": {"level": "WARNING"},
    },
}

# No notice is printed here when Redis is not in use: settings are imported by every process
# (kernel, servers, workers), and lab.status() shows the notice once, where the user looks.
