"""Chapter 16: the request-report view, Django's async test tools against it, and the example
tests the notebook runs (through the same subprocess helper)."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient, AsyncRequestFactory, override_settings

from helpers.chapters import ch16_testing_async as ch16
from lab_project.testing_async.views import request_report

REPORT = "/testing/request-report/"


async def test_report_through_the_async_client_has_middleware_and_no_user():
    report = (await AsyncClient().get(REPORT)).json()
    assert report["middleware"] is True
    assert (report["user"], report["session_keys"]) == (None, [])
    assert report["view_thread"] == threading.current_thread().name
    assert report["orm_in_transaction"] is False


@pytest.mark.parametrize("query", ["x=1", "user=ada", "x=1&x=2"])
async def test_report_takes_no_parameters(query):
    response = await AsyncClient().get(f"{REPORT}?{query}")
    assert response.status_code == 400
    assert response.json()["parameter"] == query.split("=")[0]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
async def test_report_only_answers_get(method):
    assert (await getattr(AsyncClient(), method)(REPORT)).status_code == 405


async def test_report_built_by_a_factory_has_no_middleware():
    request = AsyncRequestFactory().get(REPORT)
    response = await request_report(request)
    assert response.status_code == 200
    assert b'"middleware": false' in response.content and b'"user": null' in response.content


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
async def test_login_helpers_show_up_in_the_report():
    user = await get_user_model().objects.acreate_user("ch16-tester", password="pw")
    try:
        client = AsyncClient()
        assert await client.alogin(username="ch16-tester", password="pw")
        assert (await client.get(REPORT)).json()["user"] == "ch16-tester"
        await client.alogout()
        assert (await client.get(REPORT)).json()["user"] is None
        await client.aforce_login(user)
        report = (await client.get(REPORT)).json()
        assert report["user"] == "ch16-tester"
        assert "_auth_user_id" in report["session_keys"]
    finally:
        await user.adelete()


async def test_session_written_by_asession_reaches_the_view():
    client = AsyncClient()
    session = await client.asession()
    await session.aset("theme", "dark")
    await session.asave()
    assert (await client.get(REPORT)).json()["session_keys"] == ["theme"]


# -- the helper's parsing, on the runners' own output formats ----------------------------------
DJANGO_OUTPUT = """\
test_one (lab_project.testing_async.example_tests.SomeCase.test_one) ... ok
test_two (lab_project.testing_async.example_tests.SomeCase.test_two)
A docstring's first line ... FAIL
test_three (lab_project.testing_async.example_tests.Other.test_three) ... ERROR
"""
PYTEST_OUTPUT = """\
lab_project/testing_async/example_pytest.py::test_a PASSED [ 50%]
lab_project/testing_async/example_pytest.py::test_b FAILED [100%]
"""


def test_django_runner_lines_are_parsed():
    assert ch16.django_results(DJANGO_OUTPUT) == {"SomeCase.test_one": "ok", "SomeCase.test_two": "FAIL", "Other.test_three": "ERROR"}


def test_pytest_lines_are_parsed():
    assert ch16.pytest_results(PYTEST_OUTPUT) == {"test_a": "PASSED", "test_b": "FAILED"}


def test_a_run_with_a_failure_or_no_results_is_not_ok():
    def run(results, returncode=0):
        return ch16.TestRun(command=[], returncode=returncode, output="", seconds=0, results=results)

    assert run({"a": "ok", "b": "PASSED"}).ok
    assert not run({"a": "ok", "b": "FAIL"}).ok
    assert not run({}).ok
    assert not run({"a": "ok"}, returncode=1).ok


def test_observed_names_the_missing_observation():
    run = ch16.TestRun(command=[], returncode=0, output="", seconds=0, observations=[{"test": "x", "a": 1}])
    assert run.observed("x") == {"a": 1}
    with pytest.raises(LookupError, match="0 observations named 'y'"):
        run.observed("y")


# -- the example tests themselves, run as the notebook runs them --------------------------------
async def test_the_django_example_tests_pass_and_report_what_they_saw():
    run = await ch16.run_django_tests()
    assert run.ok, run.output[-4000:]
    assert len(run.results) == 10
    assert run.observed("TestCase: an a-method's sync half")["main_thread"] is True
    assert run.observed("TestCase: WebsocketCommunicator.disconnect()")["after"]["closed_in_transaction"] is True


async def test_the_pytest_example_tests_pass_and_report_what_they_saw():
    run = await ch16.run_pytest()
    assert run.ok, run.output[-4000:]
    assert run.observed("pytest-asyncio: an a-method's sync half")["main_thread"] is False
