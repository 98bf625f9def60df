"""Chapter 16: the same question under pytest-asyncio, the way the lab's own suite runs.

    python -m pytest lab_project/testing_async/example_pytest.py

pytest-asyncio runs an ``async def`` test on an event loop in the main thread: nothing like
``async_to_sync`` waits in a sync thread above it. Django's a-methods then find no parent
thread to return to and run on asgiref's one shared worker thread, with that thread's own
database connection. A transaction a fixture opened on the main thread is not theirs.
"""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from lab_project.async_orm.models import Author
from lab_project.testing_async.observations import observe, where_this_runs


@pytest.fixture
def uncommitted_author():
    """What a transaction-per-test fixture does: open it on the main thread, roll back after."""
    with transaction.atomic():
        Author.objects.create(name="uncommitted")
        yield
        transaction.set_rollback(True)


async def test_a_methods_miss_a_transaction_opened_by_a_fixture(uncommitted_author):
    orm_side = await sync_to_async(where_this_runs)()
    assert threading.current_thread() is threading.main_thread()  # the loop runs right here
    assert not orm_side["main_thread"] and not orm_side["in_transaction"]
    assert not await Author.objects.filter(name="uncommitted").aexists()
    observe("pytest-asyncio: an a-method's sync half", **orm_side, sees_fixture_row=False)


async def test_a_methods_share_one_thread_and_see_their_own_writes():
    # The lab's suite works this way: each test writes and cleans up its own rows.
    first = await sync_to_async(where_this_runs)()
    author = await Author.objects.acreate(name="own-write")
    assert await Author.objects.filter(name="own-write").aexists()
    await author.adelete()
    second = await sync_to_async(where_this_runs)()
    assert first["thread"] == second["thread"] and not first["main_thread"]
