"""Chapter 16: async tests written with Django's own test classes, run by Django's test runner.

    python -m django test lab_project.testing_async.example_tests -v 2 --settings lab_project.settings

(The notebook runs exactly that in a separate process: the runner creates a test database,
which a notebook kernel serving the lab's real database should not do in-process.)

What they settle: Django runs an ``async def`` test method through ``async_to_sync``
(``django/test/testcases.py``, ``SimpleTestCase._setup_and_call``). The coroutine therefore
runs on a new event loop in a new thread, while the runner's main thread waits — and serves
every thread-sensitive ``sync_to_async`` call, which is how all of Django's a-methods reach the
sync ORM. ``TestCase`` opened its transactions on that main thread, so the a-methods land on
the very connection that holds them.
"""

from __future__ import annotations

import asyncio
import threading
from unittest import mock

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import SimpleTestCase, TestCase, TransactionTestCase, override_settings

from lab_project.asgi import application
from lab_project.async_orm.models import Author
from lab_project.chat.models import Message
from lab_project.testing_async.observations import observe, on_a_throwaway_connection, where_this_runs

SET_UP_NAME = "written-by-setUpTestData"


def exists_elsewhere(name: str):
    """Ask on another thread, with its own connection, whether an author row is there."""
    query = on_a_throwaway_connection(lambda: Author.objects.filter(name=name).exists())
    return sync_to_async(query, thread_sensitive=False)()


class AsyncClientWithoutDatabase(SimpleTestCase):
    """``SimpleTestCase`` allows no queries, and still has ``self.async_client``."""

    async def test_async_client_calls_an_async_view(self):
        response = await self.async_client.get("/views/pause/", query_params={"delay": 0})
        self.assertEqual(response.status_code, 200)
        # The view ran on the test's own loop, in the thread async_to_sync made for it.
        self.assertEqual(response.json()["thread"], threading.current_thread().name)
        self.assertIsNot(threading.current_thread(), threading.main_thread())
        observe("SimpleTestCase: the test coroutine", thread=threading.current_thread().name, main_thread=False)

    @override_settings(CHAT_ALLOW_ANONYMOUS=False)
    async def test_override_settings_holds_across_awaits(self):
        await asyncio.sleep(0.01)  # a decorator that left at the first await would show here
        self.assertFalse(settings.CHAT_ALLOW_ANONYMOUS)


class AMethodsInTestCase(TestCase):
    """Each test runs inside a transaction that is rolled back afterwards."""

    @classmethod
    def setUpTestData(cls):
        Author.objects.create(name=SET_UP_NAME)  # sync, on the main thread, in the class's transaction

    async def test_a_methods_run_on_the_main_thread_inside_the_transaction(self):
        orm_side = await sync_to_async(where_this_runs)()  # how every a-method reaches the sync ORM
        self.assertIsNot(threading.current_thread(), threading.main_thread())
        self.assertTrue(orm_side["main_thread"])
        self.assertTrue(orm_side["in_transaction"])
        self.assertTrue(await Author.objects.filter(name=SET_UP_NAME).aexists())
        observe("TestCase: an a-method's sync half", **orm_side)

    async def test_another_thread_does_not_see_the_uncommitted_rows(self):
        other = await sync_to_async(where_this_runs, thread_sensitive=False)()
        self.assertFalse(other["main_thread"])
        self.assertFalse(other["in_transaction"])
        self.assertFalse(await exists_elsewhere(SET_UP_NAME))
        observe("TestCase: sync_to_async(thread_sensitive=False)", **other, sees_set_up_row=False)

    async def test_rows_written_by_a_methods_are_rolled_back_1(self):
        await self.write_temporary_author()

    async def test_rows_written_by_a_methods_are_rolled_back_2(self):
        await self.write_temporary_author()  # the twin: one of the two would fail without a rollback

    async def write_temporary_author(self):
        self.assertFalse(await Author.objects.filter(name="temporary").aexists())
        await Author.objects.acreate(name="temporary")

    async def test_a_view_called_by_the_async_client_shares_the_transaction(self):
        await Author.objects.acreate(name="written-by-the-test")
        authors = (await self.async_client.get("/orm/authors/")).json()["authors"]
        report = (await self.async_client.get("/testing/request-report/")).json()
        self.assertEqual(sorted(a["name"] for a in authors), [SET_UP_NAME, "written-by-the-test"])
        self.assertEqual((report["orm_thread"], report["orm_in_transaction"]), ("MainThread", True))
        observe("TestCase: a view behind self.async_client", orm_thread=report["orm_thread"], in_transaction=report["orm_in_transaction"])


def chat_in_room(room: str) -> WebsocketCommunicator:
    """A communicator on the full ASGI stack (origin check, session, router), as a browser arrives."""
    return WebsocketCommunicator(application, f"/ws/chat/{room}/?name=ada", headers=[(b"origin", b"http://127.0.0.1")])


async def say_hello(chat: WebsocketCommunicator) -> dict:
    connected, _ = await chat.connect(timeout=10)
    assert connected
    await chat.send_json_to({"type": "message", "text": "hello from a test"})
    while (event := await chat.receive_json_from(timeout=10))["type"] != "message":
        pass
    return event


def connection_state() -> dict:
    return {"in_transaction": connection.in_atomic_block, "closed_in_transaction": connection.closed_in_transaction}


class ConsumerInTestCase(TestCase):
    """The chat consumer's history writes land in the test's transaction, until the consumer
    leaves: Channels (4.3.2 here) calls ``aclose_old_connections()`` around each handler, and on the
    main thread inside ``TestCase`` that closes the very connection holding the transaction."""

    async def test_disconnect_closes_the_tests_connection(self):
        chat = chat_in_room("trap")
        event = await say_hello(chat)
        self.assertEqual((event["user"], event["text"]), ("ada", "hello from a test"))
        self.assertTrue(await Message.objects.filter(room="trap").aexists())  # in the transaction
        before = await sync_to_async(connection_state)()
        await chat.disconnect(timeout=10)  # websocket_disconnect -> aclose_old_connections()
        after = await sync_to_async(connection_state)()
        self.assertEqual(before, {"in_transaction": True, "closed_in_transaction": False})
        self.assertEqual(after, {"in_transaction": True, "closed_in_transaction": True})
        observe("TestCase: WebsocketCommunicator.disconnect()", before=before, after=after)


class ConsumerInTestCaseKeepingTheConnection(TestCase):
    """The communicator itself patches ``channels.db.close_old_connections`` to a no-op, but only
    while it sends or receives; ``disconnect()`` then waits outside that patch. Patching it for
    the whole test keeps the transaction alive."""

    @mock.patch("channels.db.close_old_connections", lambda: None)
    async def test_patched_for_the_whole_test_the_transaction_survives(self):
        chat = chat_in_room("kept")
        await say_hello(chat)
        await chat.disconnect(timeout=10)
        after = await sync_to_async(connection_state)()
        self.assertEqual(after, {"in_transaction": True, "closed_in_transaction": False})
        self.assertTrue(await Message.objects.filter(room="kept").aexists())
        observe("TestCase: disconnect() with close_old_connections patched", after=after)


class AMethodsInTransactionTestCase(TransactionTestCase):
    """No transaction wraps the test: writes commit, and the tables are emptied afterwards."""

    async def test_a_methods_still_run_on_the_main_thread_but_commit(self):
        orm_side = await sync_to_async(where_this_runs)()
        self.assertTrue(orm_side["main_thread"])
        self.assertFalse(orm_side["in_transaction"])
        await Author.objects.acreate(name="committed")
        self.assertTrue(await exists_elsewhere("committed"))  # another connection sees it
        observe("TransactionTestCase: an a-method's sync half", **orm_side, other_thread_sees_write=True)
