"""Authentication backends for chapter 14: one written for async code, two written before it.

None of them is in ``AUTHENTICATION_BACKENDS``: the notebook switches them in with
``override_settings`` to see what ``aauthenticate`` / ``aget_user`` do with each.

* ``ApiKeyBackend`` implements the async interface of Django 5.2+ (``aauthenticate``,
  ``aget_user``) with awaited ORM calls, and keeps thin sync twins for sync callers (Django's
  sync views, Channels' ``get_user``).
* ``LegacyBackend`` subclasses ``BaseBackend`` but only has the sync methods: ``BaseBackend``'s
  default ``aauthenticate`` runs them through ``sync_to_async`` (``django/contrib/auth/backends.py``).
* ``AsyncOnlyApiKeyBackend`` drops the sync ``get_user``: fine for Django's async views,
  anonymous on every WebSocket (Channels calls the sync one).
* ``PlainSyncBackend`` is a plain class with sync methods only, as backends written before
  Django 5.2 often were: ``aauthenticate`` finds no ``aauthenticate`` method on it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading

from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend

# Which thread each backend call ran on, newest last (the notebook reads it; bounded).
calls: list[tuple[str, str]] = []
_MAX_CALLS = 100

# Issued API keys, by SHA-256 of the key. In-process on purpose: this is a lesson about the
# backend interface, not a key store (a real one would keep the digests in the database).
_key_owners: dict[str, str] = {}


def _remember(call: str) -> None:
    calls.append((call, threading.current_thread().name))
    del calls[:-_MAX_CALLS]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(username: str) -> str:
    """A new API key for ``username`` (the caller shows it once; only its digest is kept)."""
    key = secrets.token_urlsafe(24)
    _key_owners[_digest(key)] = username
    return key


class ApiKeyBackend(BaseBackend):
    """Logs a user in with ``api_key=...`` instead of a username and password."""

    # Django picks the backends to try by binding the credentials to the *sync*
    # ``authenticate`` signature, even in ``aauthenticate`` (``_get_compatible_backends`` in
    # django/contrib/auth/__init__.py). So even an async-first backend declares it: without
    # it, BaseBackend's ``authenticate(request, **kwargs)`` would accept any credentials.
    def authenticate(self, request, api_key=None):
        return async_to_sync(self.aauthenticate)(request, api_key=api_key)

    async def aauthenticate(self, request, api_key=None):
        _remember("ApiKeyBackend.aauthenticate")
        if not isinstance(api_key, str) or not api_key:
            return None
        username = _key_owners.get(_digest(api_key))
        if username is None:
            return None
        users = get_user_model()._default_manager
        try:
            user = await users.aget_by_natural_key(username)
        except users.model.DoesNotExist:
            return None
        return user if user.is_active else None

    def get_user(self, user_id):
        return async_to_sync(self.aget_user)(user_id)

    async def aget_user(self, user_id):
        _remember("ApiKeyBackend.aget_user")
        return await get_user_model()._default_manager.filter(pk=user_id, is_active=True).afirst()


class LegacyBackend(BaseBackend):
    """Sync methods only; ``BaseBackend`` supplies ``aauthenticate`` and ``aget_user``."""

    def authenticate(self, request, username=None, password=None):
        _remember("LegacyBackend.authenticate")
        users = get_user_model()._default_manager
        try:
            user = users.get_by_natural_key(username)
        except users.model.DoesNotExist:
            return None
        return user if user.check_password(password) else None

    def get_user(self, user_id):
        _remember("LegacyBackend.get_user")
        return get_user_model()._default_manager.filter(pk=user_id).first()


class PlainSyncBackend:
    """Not a ``BaseBackend``: ``authenticate`` and ``get_user`` and nothing else."""

    def authenticate(self, request, username=None, password=None):
        _remember("PlainSyncBackend.authenticate")
        return None

    def get_user(self, user_id):
        return None


class AsyncOnlyApiKeyBackend(ApiKeyBackend):
    """``ApiKeyBackend`` without the sync twin of ``aget_user``, as an async-first backend might
    be written: ``BaseBackend.get_user`` returns None, which Channels' sync ``get_user`` calls."""

    get_user = BaseBackend.get_user
