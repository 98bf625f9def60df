"""Chapter 14: log in, log out and read the user from async views, with CSRF on.

Every view is ``async def`` and reads the user with ``await request.auser()``, except
``request_user``, which reads ``request.user`` on purpose to show why the others don't.
"""

from __future__ import annotations

import threading

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import aauthenticate, alogin, alogout, aupdate_session_auth_hash, get_user_model
from django.contrib.auth.decorators import login_not_required, login_required, permission_required, user_passes_test
from django.core.exceptions import SynchronousOnlyOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from lab_project.async_orm.json_api import BadInput, by_method, error
from lab_project.async_orm.validation import json_object, text
from lab_project.auth_sessions import trace

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing is deliberately slow; an absurd password should not cost more


def _password(data: dict, name: str) -> str:
    """A password field exactly as sent: unlike other text it is never stripped."""
    if name not in data:
        raise BadInput(name, "required")
    value = data[name]
    if not isinstance(value, str):
        raise BadInput(name, "must be a string")
    if len(value) > MAX_PASSWORD:
        raise BadInput(name, f"at most {MAX_PASSWORD} characters")
    try:
        value.encode("utf-8")  # the hasher encodes it; a lone surrogate would fail there
    except UnicodeEncodeError:
        raise BadInput(name, "must be valid Unicode text") from None
    return value


def _describe(user) -> dict:
    return {
        "user": user.get_username() if user.is_authenticated else None,
        "authenticated": user.is_authenticated,
        "staff": bool(getattr(user, "is_staff", False)),
        "superuser": bool(getattr(user, "is_superuser", False)),
    }


def _credentials(request: HttpRequest) -> tuple[str, str]:
    """Username and password from a JSON body or from the login page's form."""
    if request.content_type == "application/json":
        data = json_object(request, {"username", "password"})
    else:
        try:
            form = request.POST
        except MultiPartParserError as exc:  # e.g. multipart/form-data without a boundary
            raise BadInput("body", f"not a form Django can read ({exc})") from None
        data = {name: form[name] for name in ("username", "password") if name in form}
    username = text(data, "username", max_length=150, required=True)
    return username, _password(data, "password")


# -- logging in and out ------------------------------------------------------------------------
async def login_page(request: HttpRequest) -> HttpResponse:
    """The lab's login page. Rendering ``{% csrf_token %}`` sets the ``csrftoken`` cookie."""
    user = await request.auser()
    return render(request, "auth_sessions/login.html", {"who": user.get_username() if user.is_authenticated else None})


async def log_in(request: HttpRequest) -> JsonResponse:
    """``aauthenticate`` the credentials, then ``alogin``: the session gets a new key."""
    username, password = _credentials(request)
    user = await aauthenticate(request, username=username, password=password)
    if user is None:
        # One message for "no such user" and "wrong password": the answer must not tell them apart.
        return error(401, "username or password is wrong")
    key_before = request.session.session_key
    await alogin(request, user)
    return JsonResponse(
        {**_describe(user), "backend": user.backend, "session_key_changed": request.session.session_key != key_before}
    )


async def log_out(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    await alogout(request)  # flushes the session: its row is deleted, the cookie cleared
    return JsonResponse({"logged_out": user.get_username() if user.is_authenticated else None})


# -- who is asking -----------------------------------------------------------------------------
async def whoami(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse({**_describe(user), "read_with": "await request.auser()", "thread": threading.current_thread().name})


async def request_user(request: HttpRequest) -> JsonResponse:
    """The trap, caught and reported: ``request.user`` in an async view.

    ``request.user`` is a lazy object; the first attribute read runs the sync ``get_user``,
    which loads the session and the user with sync ORM queries. On the event loop's thread
    Django refuses them with SynchronousOnlyOperation.
    """
    try:
        sync_read = {"user": request.user.get_username() or None, "authenticated": request.user.is_authenticated}
    except SynchronousOnlyOperation as exc:
        sync_read = {"raised": type(exc).__name__, "message": str(exc)}
    user = await request.auser()
    return JsonResponse(
        {
            "request.user": sync_read,
            "await request.auser()": {"user": user.get_username() or None, "authenticated": user.is_authenticated},
            "had_session_cookie": settings.SESSION_COOKIE_NAME in request.COOKIES,
        }
    )


# -- changing the password keeps this session, ends the others ---------------------------------
@login_required
async def change_password(request: HttpRequest) -> JsonResponse:
    data = json_object(request, {"old_password", "new_password"})
    old, new = _password(data, "old_password"), _password(data, "new_password")
    if len(new) < MIN_PASSWORD:
        raise BadInput("new_password", f"at least {MIN_PASSWORD} characters")
    user = await request.auser()
    if not await user.acheck_password(old):
        raise BadInput("old_password", "wrong password")
    # set_password hashes (hundreds of ms of CPU): off the event loop, in a thread of its own.
    await sync_to_async(user.set_password, thread_sensitive=False)(new)
    await user.asave(update_fields=["password"])
    key_before = request.session.session_key
    # The session hash derives from the password hash: store the new one in *this* session,
    # so it stays logged in while every other session of the user no longer verifies.
    await aupdate_session_auth_hash(request, user)
    return JsonResponse({"changed": True, "session_key_changed": request.session.session_key != key_before})


# -- Django's auth decorators on async views (5.1+) --------------------------------------------
@login_required
async def members(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"member": (await request.auser()).get_username()})


async def is_staff(user) -> bool:
    """An async test: ``user_passes_test`` awaits it (a sync one it runs via sync_to_async)."""
    return user.is_active and user.is_staff


@user_passes_test(is_staff)
async def staff_only(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"staff": (await request.auser()).get_username()})


@permission_required("auth.view_user")
async def user_count(request: HttpRequest) -> JsonResponse:
    """Without the permission: a redirect to the login page (even when logged in)."""
    return JsonResponse({"users": await get_user_model().objects.acount()})


@permission_required("auth.view_user", raise_exception=True)
async def user_count_strict(request: HttpRequest) -> JsonResponse:
    """Without the permission: 403."""
    return JsonResponse({"users": await get_user_model().objects.acount()})


# -- the session, counted ----------------------------------------------------------------------
async def visits(request: HttpRequest) -> JsonResponse:
    """Count this session's visits with the session a-API, and report what that cost."""
    with trace.record() as seen:
        count = await request.session.aget("visits", 0) + 1
        await request.session.aset("visits", count)
        keys = sorted(await request.session.akeys())
    return JsonResponse(
        {"visits": count, "keys": keys, "engine": settings.SESSION_ENGINE, "work": seen.summary()}
    )


# Views that must answer anonymous visitors even under LoginRequiredMiddleware.
login_view = login_not_required(by_method(GET=login_page, POST=log_in))
logout_view = login_not_required(by_method(POST=log_out))
whoami_view = login_not_required(by_method(GET=whoami))
