"""A transaction done the only way Django 6.1 offers from async code.

There is no async ``atomic``: a transaction belongs to one database connection, and Django's
connections are per thread, while an async view's awaits may each hop to a worker thread. So
the whole unit of work is one *sync* function wrapped in ``transaction.atomic`` and called with
``await sync_to_async(merge_authors)(...)``: every query in it runs on the same thread and
connection, inside one transaction.
"""

from __future__ import annotations

from django.db import transaction

from lab_project.async_orm.models import Author, Post
from lab_project.async_orm.queries import author_json


class MergeStoppedMidway(Exception):
    """Raised on request after the posts moved, to show that the move is rolled back."""


def merge_authors(source_id: int, target_id: int, *, fail_midway: bool = False) -> dict:
    """Move every post of ``source`` to ``target`` and delete ``source``, all or nothing."""
    with transaction.atomic():
        # select_for_update locks the rows where the database supports it (PostgreSQL);
        # SQLite's IMMEDIATE transactions already hold the write lock.
        source = Author.objects.select_for_update().get(pk=source_id)
        target = Author.objects.select_for_update().get(pk=target_id)
        moved = Post.objects.filter(author=source).update(author=target)
        if fail_midway:
            raise MergeStoppedMidway(f"stopped after moving {moved} posts; nothing is saved")
        source.delete()
    return {"moved_posts": moved, "deleted_author": source_id, "into": author_json(target)}

