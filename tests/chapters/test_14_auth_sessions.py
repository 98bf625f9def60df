"""Chapter 14: the login/logout views with CSRF on, the auth decorators on async views, the
password change, the request.user trap view, the three backends and the session tracer."""

from __future__ import annotations

import threading
import uuid
from importlib import import_module

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import aauthenticate, aget_user, get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import AsyncClient, AsyncRequestFactory, override_settings

from lab_project.auth_sessions import backends, trace

PASSWORD = "correct horse battery"
User = get_user_model()
BACKENDS = "lab_project.auth_sessions.backends."


@pytest.fixture(autouse=True)
def quick_hashing():
    # Django's default hasher costs most of a second per password on this box; the views do not
    # care which hasher runs. The in-process lab_server reads the same settings.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"  # the test database is shared with other tests


async def make_user(prefix: str = "user", **fields) -> User:
    return await User.objects.acreate_user(unique(prefix), password=PASSWORD, **fields)


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRFToken": client.cookies.get("csrftoken", "")}


async def log_in(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    await http.get("auth/login/")
    return await http.post("auth/login/", json={"username": username, "password": password}, headers=csrf(http))


# -- logging in and out over real HTTP, CSRF on -------------------------------------------------
async def test_the_login_page_is_html_and_sets_the_csrf_cookie(http):
    page = await http.get("auth/login/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "csrftoken" in page.cookies
    assert 'name="csrfmiddlewaretoken"' in page.text and 'name="password"' in page.text


async def test_a_login_without_the_csrf_token_is_refused(http):
    user = await make_user()
    await http.get("auth/login/")
    refused = await http.post("auth/login/", json={"username": user.username, "password": PASSWORD})
    assert refused.status_code == 403
    assert "sessionid" not in http.cookies


async def test_login_whoami_logout(http):
    user = await make_user()
    await http.get("auth/login/")
    token_before = http.cookies["csrftoken"]
    answer = await log_in(http, user.username)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"] == user.username and answer.json()["session_key_changed"] is True
    assert answer.json()["backend"] == "django.contrib.auth.backends.ModelBackend"
    assert http.cookies["csrftoken"] != token_before  # alogin rotates the CSRF token
    me = (await http.get("auth/whoami/")).json()
    assert (me["user"], me["authenticated"], me["thread"]) == (user.username, True, threading.current_thread().name)
    stale = await http.post("auth/logout/", headers={"X-CSRFToken": token_before})
    assert stale.status_code == 403  # the pre-login token no longer works
    out = await http.post("auth/logout/", headers=csrf(http))
    assert out.json() == {"logged_out": user.username}
    assert "sessionid" not in http.cookies
    assert (await http.get("auth/whoami/")).json()["authenticated"] is False


async def test_the_login_form_posts_form_fields(http):
    user = await make_user()
    await http.get("auth/login/")
    form = {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": http.cookies["csrftoken"]}
    answer = await http.post("auth/login/", data=form)
    assert answer.status_code == 200 and answer.json()["user"] == user.username


async def test_a_password_is_used_exactly_as_sent(http):
    user = await User.objects.acreate_user(unique("spaces"), password="  padded  ")
    assert (await log_in(http, user.username, "padded")).status_code == 401
    assert (await log_in(http, user.username, "  padded  ")).status_code == 200


async def test_wrong_credentials_get_one_message_for_both_cases(http):
    user = await make_user()
    inactive = await make_user(is_active=False)
    answers = [
        await log_in(http, user.username, "wrong password"),
        await log_in(http, unique("nobody")),
        await log_in(http, inactive.username),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert {a.json()["error"] for a in answers} == {"username or password is wrong"}


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"username": "x"}', "password"),
        ('{"password": "x"}', "username"),
        ('{"username": 1, "password": "x"}', "username"),
        ('{"username": "x", "password": "x", "remember": true}', "remember"),
        ("[1, 2]", "body"),
        ("{", "body"),
        ('{"username": "' + "u" * 151 + '", "password": "x"}', "username"),
        ('{"username": "x", "password": "\\ud800"}', "password"),
        ('{"username": "x", "password": ["x"]}', "password"),
    ],
)
async def test_bad_login_input_is_a_400_naming_the_field(http, body, field):
    await http.get("auth/login/")
    headers = {**csrf(http), "content-type": "application/json"}
    answer = await http.post("auth/login/", content=body, headers=headers)
    assert answer.status_code == 400 and answer.json()["field"] == field, answer.text


async def test_an_unreadable_form_body_is_a_400_too(http):
    await http.get("auth/login/")
    headers = {**csrf(http), "content-type": "multipart/form-data"}  # no boundary
    # With CSRF on, CsrfViewMiddleware reads the form first and Django answers 400 itself...
    assert (await http.post("auth/login/", content=b"x", headers=headers)).status_code == 400
    # ...without it (the test client), the view does, and names the body.
    answer = await AsyncClient().post("/auth/login/", b"x", content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.json()["field"] == "body"


async def test_wrong_methods_are_405_json(http):
    for method, path in [("GET", "auth/logout/"), ("PUT", "auth/login/"), ("POST", "auth/whoami/"), ("GET", "auth/visits/")]:
        await http.get("auth/login/")
        answer = await http.request(method, path, headers=csrf(http))
        assert answer.status_code == 405 and "not allowed" in answer.json()["error"], (method, path)


# -- the request.user trap ----------------------------------------------------------------------
async def test_request_user_works_without_a_cookie_and_raises_with_a_logged_in_session(http):
    fresh = (await http.get("auth/request-user/")).json()
    assert fresh["request.user"] == {"user": None, "authenticated": False} and fresh["had_session_cookie"] is False
    user = await make_user()
    assert (await log_in(http, user.username)).status_code == 200
    trapped = (await http.get("auth/request-user/")).json()
    assert trapped["request.user"]["raised"] == "SynchronousOnlyOperation"
    assert trapped["await request.auser()"] == {"user": user.username, "authenticated": True}


async def test_with_signed_cookie_sessions_only_the_logged_in_read_raises():
    engine = "django.contrib.sessions.backends.signed_cookies"
    with override_settings(SESSION_ENGINE=engine):
        client = AsyncClient()
        await client.post("/auth/visits/")
        anonymous = (await client.get("/auth/request-user/")).json()["request.user"]
        await client.aforce_login(await make_user())
        logged_in = (await client.get("/auth/request-user/")).json()["request.user"]
    assert anonymous == {"user": None, "authenticated": False}
    assert logged_in["raised"] == "SynchronousOnlyOperation"


# -- decorators on async views ------------------------------------------------------------------
@pytest.fixture
async def people() -> dict[str, User | None]:
    auditors, _ = await Group.objects.aget_or_create(name="ch14-test-auditors")
    await auditors.permissions.aadd(await Permission.objects.aget(codename="view_user", content_type__app_label="auth"))
    auditor = await make_user("auditor")
    await auditor.groups.aadd(auditors)
    return {
        "anonymous": None,
        "plain": await make_user("plain"),
        "staff": await make_user("staff", is_staff=True),
        "auditor": auditor,
        "superuser": await User.objects.acreate_superuser(unique("root"), password=PASSWORD),
    }


EXPECTED = {  # members, staff, users, users/strict
    "anonymous": ["login", "login", "login", 403],
    "plain": [200, "login", "login", 403],
    "staff": [200, 200, "login", 403],
    "auditor": [200, "login", 200, 200],
    "superuser": [200, 200, 200, 200],
}


@pytest.mark.parametrize("who", EXPECTED)
async def test_auth_decorators_guard_the_async_views(people, who):
    client = AsyncClient()
    if people[who] is not None:
        await client.aforce_login(people[who])
    outcome = []
    for path in ("/auth/members/", "/auth/staff/", "/auth/users/", "/auth/users/strict/"):
        answer = await client.get(path)
        if answer.status_code == 302:
            assert answer["Location"] == f"/auth/login/?next={path}"
            outcome.append("login")
        else:
            outcome.append(answer.status_code)
    assert outcome == EXPECTED[who]


async def test_login_required_middleware_spares_the_login_not_required_views():
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]):
        client = AsyncClient()
        assert (await client.get("/hello/"))["Location"] == "/auth/login/?next=/hello/"
        for path in ("/auth/login/", "/auth/whoami/"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/auth/visits/")).status_code == 302  # not marked: guarded
        await client.aforce_login(await make_user())
        assert (await client.get("/hello/")).status_code == 200


# -- password change ----------------------------------------------------------------------------
async def test_a_password_change_keeps_this_session_and_ends_the_others(lab_server):
    user = await make_user()
    async with httpx.AsyncClient(base_url=lab_server.url, timeout=10) as here, httpx.AsyncClient(base_url=lab_server.url, timeout=10) as there:
        for client in (here, there):
            assert (await log_in(client, user.username)).status_code == 200
        bad = await here.post("auth/password/", json={"old_password": "nope", "new_password": "long enough"}, headers=csrf(here))
        short = await here.post("auth/password/", json={"old_password": PASSWORD, "new_password": "short"}, headers=csrf(here))
        assert (bad.status_code, bad.json()["field"]) == (400, "old_password")
        assert (short.status_code, short.json()["field"]) == (400, "new_password")
        changed = await here.post("auth/password/", json={"old_password": PASSWORD, "new_password": "long enough"}, headers=csrf(here))
        assert changed.json() == {"changed": True, "session_key_changed": True}
        assert (await here.get("auth/whoami/")).json()["user"] == user.username
        assert (await there.get("auth/whoami/")).json()["user"] is None
    assert await (await User.objects.aget(pk=user.pk)).acheck_password("long enough")


async def test_an_anonymous_password_change_is_sent_to_the_login_page():
    answer = await AsyncClient().post("/auth/password/", {"old_password": "a", "new_password": "b" * 10}, content_type="application/json")
    assert answer.status_code == 302 and answer["Location"].startswith("/auth/login/")


# -- the session counter and the tracer ---------------------------------------------------------
async def test_visits_counts_in_the_session_and_reports_the_load():
    client = AsyncClient()
    first = (await client.post("/auth/visits/")).json()
    second = (await client.post("/auth/visits/")).json()
    assert (first["visits"], second["visits"]) == (1, 2)
    assert first["work"]["sql"] == 0  # a new session: nothing to load
    assert second["work"] == {"sql": 1, "redis": 0, "thread_hops": 1, "io_on_loop": 0, "io_in_worker_thread": 1}


async def test_the_tracer_sees_worker_threads_and_nested_recordings():
    Store = import_module("django.contrib.sessions.backends.db").SessionStore
    session = Store()
    await session.aset("k", 1)
    await session.asave()
    with trace.record() as outer:
        with trace.record() as inner:
            await Store(session.session_key).aget("k")
        await session.adelete()
    assert inner.details("sql") == ["SELECT django_session"]
    assert outer.details("sql") == ["SELECT django_session", "SELECT django_session", "DELETE django_session"]
    assert all(not e.on_loop for e in outer.of("sql"))
    assert not trace._originals  # hooks removed when the last recording closed


async def test_sync_session_access_on_the_loop_is_recorded_as_such():
    Store = import_module("django.contrib.sessions.backends.signed_cookies").SessionStore
    session = Store()
    await session.aset("k", 1)
    await session.asave()
    with trace.record() as seen:
        assert Store(session.session_key)["k"] == 1
    assert seen.summary() == trace.Recording().summary()


# -- backends -----------------------------------------------------------------------------------
async def test_the_api_key_backend_authenticates_on_the_loop():
    user = await make_user()
    key = backends.issue_key(user.username)
    with override_settings(AUTHENTICATION_BACKENDS=[BACKENDS + "ApiKeyBackend"]):
        backends.calls.clear()
        found = await aauthenticate(None, api_key=key)
        assert (found.pk, found.backend) == (user.pk, BACKENDS + "ApiKeyBackend")
        assert backends.calls == [("ApiKeyBackend.aauthenticate", threading.current_thread().name)]
        assert await aauthenticate(None, api_key="not a key") is None
        assert await aauthenticate(None, api_key=None) is None
        # The sync twins work too (Channels' get_user calls get_user from a worker thread).
        assert (await sync_to_async(backends.ApiKeyBackend().get_user)(user.pk)).pk == user.pk
        request = AsyncRequestFactory().get("/")
        request.session = import_module("django.contrib.sessions.backends.signed_cookies").SessionStore()
        from django.contrib.auth import alogin

        await alogin(request, found)
        assert (await aget_user(request)).pk == user.pk


async def test_a_legacy_backend_runs_in_a_thread_and_a_plain_one_fails():
    user = await make_user()
    with override_settings(AUTHENTICATION_BACKENDS=[BACKENDS + "LegacyBackend"]):
        backends.calls.clear()
        assert (await aauthenticate(None, username=user.username, password=PASSWORD)).pk == user.pk
        [(call, thread)] = backends.calls
        assert call == "LegacyBackend.authenticate" and thread != threading.current_thread().name
    with override_settings(AUTHENTICATION_BACKENDS=[BACKENDS + "PlainSyncBackend"]):
        with pytest.raises(AttributeError, match="aauthenticate"):
            await aauthenticate(None, username=user.username, password=PASSWORD)
