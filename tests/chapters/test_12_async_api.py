"""The async API inventory (notebooks/async_api.json) against the installed Django and the notebooks.

A new Django release shows up here as red tests, not as silent drift:
* a listed object is gone, or no longer async, or its line moved (``source`` is out of date);
* Django grew a public ``async def`` that no row lists and ``not_in_inventory`` does not ignore;
* a row is neither called by a notebook code cell (directly or through lab code a cell drives) nor
  explains in ``not_called_because`` why no notebook can call it.

    uv run pytest tests/chapters/test_12_async_api.py -q
    uv run python -m helpers.chapters.ch12_async_api --open    # the rows still open, and why
"""

import json
import re

import django
import pytest

from helpers.chapters import ch12_async_api as ch12

INVENTORY = ch12.load_inventory()
ROWS = INVENTORY.rows
IDS = [row.id for row in ROWS]


@pytest.fixture(scope="module")
def coverage() -> dict[str, ch12.RowCoverage]:
    return {c.row.id: c for c in INVENTORY.coverage()}


def test_the_inventory_is_for_the_installed_django():
    data = json.loads(ch12.INVENTORY.read_text())
    assert data["django"] == django.get_version(), (
        f"async_api.json was checked against Django {data['django']}, the lab now runs {django.get_version()}: "
        "re-check every row (these tests say which moved) and update the version"
    )


def test_row_ids_are_unique_and_every_row_is_complete():
    assert len(IDS) == len(set(IDS)), [i for i in IDS if IDS.count(i) > 1]
    for row in ROWS:
        assert row.section and row.api and row.added_in, row.id
        assert row.calls or row.via_app or row.not_called_because, f"{row.id}: no way to tell whether it is called"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_listed_django_objects_still_exist(row):
    missing = row.missing_objects()
    assert not missing, f"{row.id}: the installed Django no longer has " + "; ".join(missing)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_source_lines_match_the_installed_django(row):
    expected = row.expected_source()
    assert row.source == expected, (
        f"{row.id}: source moved, was {row.source}, is now {expected} "
        "(python -m helpers.chapters.ch12_async_api --update-sources rewrites them)"
    )


def test_every_public_async_def_in_django_is_in_the_inventory():
    unlisted = INVENTORY.uninventoried()
    assert not unlisted, (
        f"{len(unlisted)} public async def in the installed Django are in no row of async_api.json "
        "(add a row, or a not_in_inventory rule saying why not): "
        + ", ".join(f"{d.name} ({d.path}:{d.line})" for d in unlisted)
    )


def test_ignore_rules_still_match_something():
    names = [d.name for d in ch12.django_async_defs()]
    stale = [rule["pattern"] for rule in INVENTORY.ignored if not any(re.fullmatch(rule["pattern"], n) for n in names)]
    assert not stale, f"not_in_inventory rules that match no async def any more: {stale}"
    assert all(rule.get("why") for rule in INVENTORY.ignored)


def test_django_transaction_module_still_has_no_async_api():
    # The row no-async-transactions teaches that there is no aatomic; this keeps it true.
    assert not [d for d in ch12.django_async_defs() if d.module == "django.db.transaction"]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_row_is_called_in_a_notebook_or_says_why_not(row, coverage):
    found = coverage[row.id]
    if found.called or found.app_ok:
        return
    if row.not_called_because:
        return
    if row.via_app and not found.app_ok:
        detail = f"lab code {row.via_app['file']} must contain {row.via_app['calls']} and a cell must match {row.via_app['driven_by']}"
    else:
        detail = "no code cell matches " + "; ".join(f"`{m}`" for m in found.missing_calls)
    pytest.fail(
        f"{row.id} ({row.api}) is called by no notebook: {detail}. "
        "Call it in a chapter's code cell, or give the row a not_called_because."
    )


@pytest.mark.parametrize("row", [r for r in ROWS if r.not_called_because], ids=[r.id for r in ROWS if r.not_called_because])
def test_a_reason_is_dropped_once_the_row_is_called(row, coverage):
    assert not coverage[row.id].called, f"{row.id} is called now ({coverage[row.id].where}): drop its not_called_because"


def test_visible_code_ignores_strings_comments_and_hasattr_lists():
    code = ch12.visible_code('hasattr(qs, "aget")  # qs.aget(\nprint("await qs.aget()")\nx = f"{await qs.afirst()}"\n')
    assert ".aget(" not in code
    assert ".afirst(" in code  # code inside an f-string's braces is code
