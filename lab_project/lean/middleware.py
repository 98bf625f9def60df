"""Django's bundled middleware, with their hooks called inline on the loop when they do no I/O.

Under ASGI, ``MiddlewareMixin.__acall__`` runs every ``process_request`` / ``process_response``
through ``sync_to_async(thread_sensitive=True)``: two hops to the request's thread and back per
middleware, even for hooks that only read headers or set one. Each class here *is* Django's
class (a subclass: the hooks are Django's own code, unchanged); only the async path differs:

* a hook that cannot do I/O is called directly on the loop;
* a hook that may do sync I/O on this request still goes to the request's thread, as stock —
  and only then (``*_is_inline`` says which, per request);
* the session is saved through the session's async API (``asave``) instead of a thread.

The sync path (WSGI, the sync test client) is Django's, untouched. ``LEAN_MIDDLEWARE`` is the
explicit swap list; middleware not in it is left as stock.
"""

from __future__ import annotations

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

__all__ = ["LEAN_MIDDLEWARE", "InlineHooks", "lean_class_for"]

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")  # what CsrfViewMiddleware accepts unchecked


class InlineHooks:
    """Mixed in before a ``MiddlewareMixin`` class: ``MiddlewareMixin.__acall__`` with a choice.

    Same order and semantics as Django's ``__acall__``; a hook runs inline when its class says
    it does no I/O on this request, else through ``sync_to_async`` exactly as stock.
    """

    def request_hook_is_inline(self, request) -> bool:
        return True

    def response_hook_is_inline(self, request, response) -> bool:
        return True

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.request_hook_is_inline(request):
                response = self.process_request(request)
            else:
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self.aprocess_response(request, response)
        return response

    async def aprocess_response(self, request, response):
        if self.response_hook_is_inline(request, response):
            return self.process_response(request, response)
        return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)


class LeanSecurityMiddleware(InlineHooks, SecurityMiddleware):
    """Headers and an HTTPS redirect: never I/O."""


class LeanCommonMiddleware(InlineHooks, CommonMiddleware):
    """User-agent check, www/slash redirects (URL resolving), Content-Length: never I/O."""


class LeanXFrameOptionsMiddleware(InlineHooks, XFrameOptionsMiddleware):
    """One response header: never I/O."""


class LeanAuthenticationMiddleware(InlineHooks, AuthenticationMiddleware):
    """Sets ``request.user`` (lazy) and ``request.auser``: the user is loaded only when used."""


class LeanCsrfViewMiddleware(InlineHooks, CsrfViewMiddleware):
    """Cookie-based CSRF reads and writes cookies only. With ``CSRF_USE_SESSIONS`` the secret
    lives in the session (a load may hit the database): then every hook hops, as stock.
    ``process_view`` on an unsafe method may parse the body (upload handlers write files) and
    render the failure view: it hops too; on a safe method it only accepts."""

    def request_hook_is_inline(self, request) -> bool:
        return not settings.CSRF_USE_SESSIONS

    def response_hook_is_inline(self, request, response) -> bool:
        return not settings.CSRF_USE_SESSIONS

    async def aprocess_view(self, request, callback, callback_args, callback_kwargs):
        if not settings.CSRF_USE_SESSIONS and request.method in SAFE_METHODS:
            return self.process_view(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(self.process_view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


class LeanMessageMiddleware(InlineHooks, MessageMiddleware):
    """Attaching the storage is free. Storing messages may write the session (a load may hit the
    database), so the response hook hops when there is anything to store — only then."""

    def response_hook_is_inline(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        # BaseStorage.update() does nothing unless messages were read or added.
        return storage is None or not (getattr(storage, "used", True) or getattr(storage, "added_new", True))


class LeanSessionMiddleware(InlineHooks, SessionMiddleware):
    """Making the (lazy) session store is free; the response hook does I/O only when it saves.

    Saving goes through the session's async API: ``aget_expire_at_browser_close``,
    ``aget_expiry_age`` and ``asave`` (a backend without native async falls back to a thread
    inside those, as Django's ``SessionBase`` does).
    """

    def response_hook_is_inline(self, request, response) -> bool:
        try:
            session = request.session
            saves = (session.modified or settings.SESSION_SAVE_EVERY_REQUEST) and not session.is_empty()
        except AttributeError:
            return True  # stock returns the response untouched
        return not saves

    async def aprocess_response(self, request, response):
        if self.response_hook_is_inline(request, response):
            return self.process_response(request, response)
        # The saving branch of SessionMiddleware.process_response, line for line, with the
        # session's a-API. (Not empty here, so the delete-cookie branch cannot apply.)
        session = request.session
        need_vary_cookie = session.accessed  # read first, as stock does: loading sets it
        if await session.aget_expire_at_browser_close():
            max_age = None
            expires = None
        else:
            max_age = await session.aget_expiry_age()
            expires = http_date(time.time() + max_age)
        if response.status_code < 500:
            try:
                await session.asave()
            except UpdateError:
                raise SessionInterrupted(
                    "The request's session was deleted before the request completed. The user "
                    "may have logged out in a concurrent request, for example."
                )
            response.set_cookie(
                settings.SESSION_COOKIE_NAME,
                session.session_key,
                max_age=max_age,
                expires=expires,
                domain=settings.SESSION_COOKIE_DOMAIN,
                path=settings.SESSION_COOKIE_PATH,
                secure=settings.SESSION_COOKIE_SECURE or None,
                httponly=settings.SESSION_COOKIE_HTTPONLY or None,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
            need_vary_cookie = True
        if need_vary_cookie:
            patch_vary_headers(response, ("Cookie",))
        return response


# The explicit swap list: Django's dotted path -> its lean subclass.
LEAN_MIDDLEWARE: dict[str, type] = {
    "django.middleware.security.SecurityMiddleware": LeanSecurityMiddleware,
    "django.contrib.sessions.middleware.SessionMiddleware": LeanSessionMiddleware,
    "django.middleware.common.CommonMiddleware": LeanCommonMiddleware,
    "django.middleware.csrf.CsrfViewMiddleware": LeanCsrfViewMiddleware,
    "django.contrib.auth.middleware.AuthenticationMiddleware": LeanAuthenticationMiddleware,
    "django.contrib.messages.middleware.MessageMiddleware": LeanMessageMiddleware,
    "django.middleware.clickjacking.XFrameOptionsMiddleware": LeanXFrameOptionsMiddleware,
}
_BY_CLASS = {cls.__mro__[2]: cls for cls in LEAN_MIDDLEWARE.values()}  # Django's class -> lean


def lean_class_for(middleware: type) -> type:
    """The lean subclass for one of Django's bundled classes; anything else unchanged."""
    return _BY_CLASS.get(middleware, middleware)
