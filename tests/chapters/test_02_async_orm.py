"""Chapter 2: the blog API written with the async ORM, its input checks, the failure demos, the
transaction, 200 concurrent creates through the real server, and the rest of the async ORM API
the chapter calls (404 shortcuts, pagination, prefetching, fetch modes, nullable and generic
relations, the async.E001 check)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
import warnings
from pathlib import Path
from unittest import mock

import django
import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.core.checks import Tags, run_checks
from django.core.exceptions import FieldFetchBlocked, SynchronousOnlyOperation
from django.core.paginator import AsyncPaginator, UnorderedObjectListWarning
from django.db import transaction
from django.db.models import FETCH_PEERS, FETCH_RAISE
from django.http import Http404
from django.test import AsyncClient, AsyncRequestFactory

from lab_project.async_orm.json_api import answers_json_errors
from lab_project.async_orm.models import Author, Comment, Note, Post, Series, Tag
from lab_project.async_orm.queries import posts_for_listing
from lab_project.async_orm.query_threads import recording_query_threads
from lab_project.async_orm.transactions import MergeStoppedMidway, merge_authors

SOO_MESSAGE = "You cannot call this from an async context - use a thread or sync_to_async."


@pytest.fixture
def client() -> AsyncClient:
    # raise_request_exception: a crash in a view fails the test with its traceback.
    return AsyncClient(raise_request_exception=True)


@pytest.fixture
async def author() -> Author:
    return await Author.objects.acreate(name=f"author-{uuid.uuid4().hex[:10]}")


async def send(client: AsyncClient, method: str, path: str, body=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return await client.generic(method, path, data=data, content_type="application/json")


async def new_post(client, author, **fields):
    response = await send(client, "POST", "/orm/posts/", {"title": "A post", "author": author.pk, **fields})
    assert response.status_code == 201, response.json()
    return response.json()


# -- CRUD ---------------------------------------------------------------------------------------
async def test_create_returns_the_post_with_its_relations(client, author):
    post = await new_post(client, author, body="text", tags=["async", "orm", "async"])
    assert post["title"] == "A post"
    assert post["author"] == {"id": author.pk, "name": author.name}
    assert post["tags"] == ["async", "orm"]  # duplicates dropped, sorted by name
    assert post["likes"] == 0 and post["comments"] == [] and post["body"] == "text"
    stored = await Post.objects.select_related("author").aget(pk=post["id"])
    assert stored.author.pk == author.pk


async def test_list_shows_posts_with_preloaded_relations_and_filters(client, author):
    tag = f"t{uuid.uuid4().hex[:8]}"
    first = await new_post(client, author, tags=[tag])
    await new_post(client, author)
    response = await client.get("/orm/posts/", {"author": author.pk})
    assert response.status_code == 200
    listing = response.json()
    assert listing["count"] == 2
    assert [p["author"]["name"] for p in listing["posts"]] == [author.name] * 2
    tagged = (await client.get("/orm/posts/", {"tag": tag})).json()
    assert [p["id"] for p in tagged["posts"]] == [first["id"]]
    assert (await client.get("/orm/posts/", {"author": author.pk, "limit": 1})).json()["posts"][0]["id"] == first["id"]


@pytest.mark.parametrize(
    "query, field",
    [({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"limit": "501"}, "limit"),
     ({"author": "x"}, "author"), ({"author": "99999999999999999999999"}, "author"), ({"tag": "a\x00b"}, "tag"),
     ({"tag": "x" * 41}, "tag")],
)
async def test_list_refuses_bad_query_parameters(client, query, field):
    response = await client.get("/orm/posts/", query)
    assert response.status_code == 400
    assert response.json()["parameter"] == field


async def test_detail_and_missing_posts(client, author):
    post = await new_post(client, author)
    assert (await client.get(f"/orm/posts/{post['id']}/")).json() == post
    for pk in (10**9, 2**63, 10**30):  # past the 64-bit range is a 404 too, not an overflow
        missing = await client.get(f"/orm/posts/{pk}/")
        assert missing.status_code == 404
        assert "no post" in missing.json()["error"]


async def test_patch_changes_only_what_is_sent(client, author):
    other = await Author.objects.acreate(name=f"other-{uuid.uuid4().hex[:8]}")
    post = await new_post(client, author, body="keep me", tags=["a"])
    response = await send(client, "PATCH", f"/orm/posts/{post['id']}/", {"title": "New", "author": other.pk, "tags": ["b", "c"]})
    assert response.status_code == 200
    changed = response.json()
    assert (changed["title"], changed["body"], changed["author"]["id"], changed["tags"]) == ("New", "keep me", other.pk, ["b", "c"])
    cleared = await send(client, "PATCH", f"/orm/posts/{post['id']}/", {"tags": [], "body": ""})
    assert cleared.json()["tags"] == [] and cleared.json()["body"] == ""


async def test_patch_errors(client, author):
    post = await new_post(client, author)
    empty = await send(client, "PATCH", f"/orm/posts/{post['id']}/", {})
    assert empty.status_code == 400 and empty.json()["field"] == "body"
    unknown_author = await send(client, "PATCH", f"/orm/posts/{post['id']}/", {"author": 10**12})
    assert unknown_author.status_code == 400 and unknown_author.json()["field"] == "author"
    missing = await send(client, "PATCH", "/orm/posts/999999999/", {"title": "x"})
    assert missing.status_code == 404


async def test_delete_cascades_and_reports_what_it_removed(client, author):
    post = await new_post(client, author, tags=["x"])
    await send(client, "POST", f"/orm/posts/{post['id']}/comments/", {"text": "hi"})
    response = await send(client, "DELETE", f"/orm/posts/{post['id']}/")
    assert response.status_code == 200
    assert response.json() == {
        "deleted": post["id"],
        "removed_rows": {"lab_async_orm.Comment": 1, "lab_async_orm.Post": 1, "lab_async_orm.Post_tags": 1},
    }
    assert not await Post.objects.filter(pk=post["id"]).aexists()
    assert (await send(client, "DELETE", f"/orm/posts/{post['id']}/")).status_code == 404


async def test_concurrent_likes_are_all_counted(client, author):
    post = await new_post(client, author)
    answers = await asyncio.gather(*(send(client, "POST", f"/orm/posts/{post['id']}/like/") for _ in range(20)))
    assert {a.status_code for a in answers} == {200}
    assert (await Post.objects.aget(pk=post["id"])).likes == 20  # F() + aupdate: no lost update
    assert (await send(client, "POST", "/orm/posts/999999999/like/")).status_code == 404


async def test_comments_through_the_related_manager(client, author):
    post = await new_post(client, author)
    added = await send(client, "POST", f"/orm/posts/{post['id']}/comments/", {"text": "  first  "})
    assert added.status_code == 201 and added.json()["text"] == "first"
    listing = (await client.get(f"/orm/posts/{post['id']}/comments/")).json()
    assert listing == {"post": post["id"], "comments": [{"id": added.json()["id"], "text": "first"}]}
    assert (await client.get(f"/orm/posts/{post['id']}/")).json()["comment_count"] == 1
    for body, status in [({}, 400), ({"text": 5}, 400), ({"text": "x" * 1001}, 400)]:
        assert (await send(client, "POST", f"/orm/posts/{post['id']}/comments/", body)).status_code == status
    assert (await send(client, "POST", "/orm/posts/999999999/comments/", {"text": "x"})).status_code == 404


async def test_tags_are_added_not_replaced(client, author):
    post = await new_post(client, author, tags=["one"])
    response = await send(client, "POST", f"/orm/posts/{post['id']}/tags/", {"tags": ["two", "one"]})
    assert response.json() == {"post": post["id"], "tags": ["one", "two"]}
    assert await Tag.objects.filter(name="one").acount() == 1  # aget_or_create reused it
    for body in ({}, {"tags": []}, {"tags": "one"}):
        refused = await send(client, "POST", f"/orm/posts/{post['id']}/tags/", body)
        assert refused.status_code == 400 and refused.json()["field"] == "tags"


async def test_export_streams_one_json_line_per_post(client, author):
    ids = [(await new_post(client, author))["id"] for _ in range(3)]
    response = await client.get("/orm/posts/export/")
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in b"".join([c async for c in response.streaming_content]).splitlines()]
    mine = [row for row in rows if row["author__name"] == author.name]
    assert [row["id"] for row in mine] == ids


# -- authors, stats, seed -----------------------------------------------------------------------
async def test_author_upsert_creates_then_updates(client):
    name = f"writer-{uuid.uuid4().hex[:8]}"
    created = await send(client, "POST", "/orm/authors/", {"name": name, "bio": "one"})
    assert created.status_code == 201 and created.json()["created"] is True
    updated = await send(client, "POST", "/orm/authors/", {"name": name, "bio": "two"})
    assert updated.status_code == 200 and updated.json()["created"] is False
    assert updated.json()["id"] == created.json()["id"]
    listed = {a["name"]: a for a in (await client.get("/orm/authors/")).json()["authors"]}
    assert listed[name]["bio"] == "two" and listed[name]["posts"] == 0


@pytest.mark.parametrize("body, field", [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"),
                                         ({"name": "ok", "bio": 1}, "bio"), ({"name": "ok", "age": 3}, "age")])
async def test_author_upsert_validates(client, body, field):
    response = await send(client, "POST", "/orm/authors/", body)
    assert response.status_code == 400 and response.json()["field"] == field


async def test_stats_and_seed(client):
    seeded = await send(client, "POST", "/orm/seed/", {"posts": 4})
    assert seeded.status_code == 201
    body = seeded.json()
    assert body["created_posts"] == 4 and body["last_id"] - body["first_id"] == 3
    stats = (await client.get("/orm/stats/")).json()
    assert stats["posts"] == await Post.objects.acount()
    assert set(stats) == {"posts", "authors", "has_comments", "total_likes", "average_likes", "first_post", "last_post"}
    for bad in ({"posts": 0}, {"posts": 501}, {"posts": "3"}, {"posts": True}):
        assert (await send(client, "POST", "/orm/seed/", bad)).json()["field"] == "posts"


# -- validation of the create body --------------------------------------------------------------
BAD_CREATES = [
    (b"{not json", "body"),
    (b"\xff\xfe", "body"),
    (b"[1, 2]", "body"),
    (b"[" * 100_000 + b"]" * 100_000, "body"),
    ({"author": 1}, "title"),
    ({"title": "", "author": 1}, "title"),
    ({"title": 5, "author": 1}, "title"),
    ({"title": None, "author": 1}, "title"),
    ({"title": "x" * 201, "author": 1}, "title"),
    ({"title": "nul\x00", "author": 1}, "title"),
    ({"title": "surrogate \ud800", "author": 1}, "title"),
    ({"title": "ok", "author": 1, "body": "x" * 10_001}, "body"),
    ({"title": "ok"}, "author"),
    ({"title": "ok", "author": "1"}, "author"),
    ({"title": "ok", "author": True}, "author"),
    ({"title": "ok", "author": 1.5}, "author"),
    ({"title": "ok", "author": 0}, "author"),
    ({"title": "ok", "author": 2**63}, "author"),
    ({"title": "ok", "author": 10**12}, "author"),  # well-formed but unknown
    ({"title": "ok", "author": 1, "tags": "a"}, "tags"),
    ({"title": "ok", "author": 1, "tags": [1]}, "tags"),
    ({"title": "ok", "author": 1, "tags": ["x" * 41]}, "tags"),
    ({"title": "ok", "author": 1, "tags": [str(i) for i in range(11)]}, "tags"),
    ({"title": "ok", "author": 1, "colour": "red"}, "colour"),
]


@pytest.mark.parametrize("payload, field", BAD_CREATES, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_CREATES)])
async def test_create_refuses_bad_bodies_naming_the_field(client, payload, field):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = await send(client, "POST", "/orm/posts/", raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(f"{field}: ")


async def test_wrong_method_is_a_json_405_with_allow(client):
    response = await send(client, "PUT", "/orm/posts/1/")
    assert response.status_code == 405
    assert response["Allow"] == "DELETE, GET, PATCH"
    assert "PUT" in response.json()["error"]


# -- CSRF and the real server -------------------------------------------------------------------
async def test_csrf_stays_on_and_the_token_endpoint_unlocks_writes(lab_server, author):
    async with httpx.AsyncClient(base_url=lab_server.url, timeout=10) as http:
        refused = await http.post("orm/posts/", json={"title": "no token", "author": author.pk})
        assert refused.status_code == 403
        token = (await http.get("orm/csrf/")).json()["csrfToken"]
        assert http.cookies.get("csrftoken")
        accepted = await http.post(
            "orm/posts/", json={"title": "with token", "author": author.pk}, headers={"X-CSRFToken": token}
        )
        assert accepted.status_code == 201, accepted.text


async def test_200_concurrent_creates_all_land(lab_server, author):
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=lab_server.url, timeout=60, limits=limits) as http:
        token = (await http.get("orm/csrf/")).json()["csrfToken"]
        answers = await asyncio.gather(
            *(
                http.post("orm/posts/", json={"title": f"concurrent {i}", "author": author.pk}, headers={"X-CSRFToken": token})
                for i in range(200)
            )
        )
    failures = [(a.status_code, a.text[:200]) for a in answers if a.status_code != 201]
    assert not failures, failures[:5]
    assert not [a for a in answers if "locked" in a.text]
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 200
    stored = {t async for t in Post.objects.filter(author=author).values_list("title", flat=True)}
    assert stored == {f"concurrent {i}" for i in range(200)}  # none lost


# -- the rules of the async ORM -----------------------------------------------------------------
async def test_sync_orm_in_async_code_raises_but_building_a_queryset_does_not():
    queryset = Post.objects.all()  # no SQL yet
    with pytest.raises(SynchronousOnlyOperation, match=re.escape(SOO_MESSAGE)):
        list(queryset)
    with pytest.raises(SynchronousOnlyOperation):
        Post.objects.count()
    assert isinstance(await queryset.acount(), int)


async def test_a_methods_run_their_sql_on_a_worker_thread():
    import threading

    with recording_query_threads() as threads:
        await Post.objects.acount()
        await Author.objects.afirst()
    assert len(threads) == 2
    assert threading.current_thread().name not in threads


async def test_demo_endpoints_report_instead_of_failing(client, author):
    await new_post(client, author)
    threads = (await client.get("/orm/demo/threads/")).json()
    assert threads["view_thread_runs_event_loop"] is True
    assert len(threads["query_threads"]) == 2 and threads["view_thread"] not in threads["query_threads"]

    evaluation = (await client.get("/orm/demo/sync-evaluation/")).json()
    assert evaluation["building"]["raised"] is None
    assert {o["raised"] for o in evaluation["evaluating_synchronously"].values()} == {"SynchronousOnlyOperation"}
    assert all(o["raised"] is None for o in evaluation["evaluating_asynchronously"].values())

    lazy = (await client.get("/orm/demo/lazy-relation/")).json()
    assert {o["raised"] for o in lazy["lazy"].values()} == {"SynchronousOnlyOperation"}
    assert {o["raised"] for o in lazy["preloaded"].values()} == {None}

    atomic = (await client.get("/orm/demo/atomic-in-async/")).json()
    assert atomic["with transaction.atomic()"]["raised"] == "SynchronousOnlyOperation"
    assert atomic["async with transaction.atomic()"]["raised"] == "TypeError"
    assert atomic["async names in django.db.transaction"] == []



def test_django_has_no_async_transaction_api():
    root = Path(django.__file__).parent
    assert not [name for name in dir(transaction) if name.startswith("aatomic") or "async" in name]
    hits = [p for p in root.rglob("*.py") if re.search(r"def\s+(aatomic|async_atomic)\b", p.read_text(errors="ignore"))]
    assert hits == []
    assert "async def" not in (root / "db" / "transaction.py").read_text()


# -- the transaction ----------------------------------------------------------------------------
async def test_merge_moves_posts_and_deletes_the_source(client, author):
    target = await Author.objects.acreate(name=f"target-{uuid.uuid4().hex[:8]}")
    for _ in range(2):
        await new_post(client, author)
    response = await send(client, "POST", f"/orm/authors/{author.pk}/merge/", {"into": target.pk})
    assert response.status_code == 200
    assert response.json()["moved_posts"] == 2 and response.json()["deleted_author"] == author.pk
    assert await Post.objects.filter(author=target).acount() == 2
    assert not await Author.objects.filter(pk=author.pk).aexists()


async def test_merge_errors(client, author):
    assert (await send(client, "POST", f"/orm/authors/{author.pk}/merge/", {"into": author.pk})).json()["field"] == "into"
    assert (await send(client, "POST", f"/orm/authors/{author.pk}/merge/", {"into": 10**12})).json()["field"] == "into"
    assert (await send(client, "POST", f"/orm/authors/{author.pk}/merge/", {})).json()["field"] == "into"
    assert (await send(client, "POST", "/orm/authors/999999999/merge/", {"into": author.pk})).status_code == 404


async def test_a_failed_merge_is_rolled_back(client, author):
    target = await Author.objects.acreate(name=f"target-{uuid.uuid4().hex[:8]}")
    await new_post(client, author)
    with pytest.raises(MergeStoppedMidway):
        await sync_to_async(merge_authors)(author.pk, target.pk, fail_midway=True)
    assert await Post.objects.filter(author=author).acount() == 1  # the UPDATE was undone
    assert await Author.objects.filter(pk=author.pk).aexists()


async def test_comment_model_cascade_is_real(author):
    post = await Post.objects.acreate(author=author, title="t")
    await post.comments.acreate(text="x")
    await author.adelete()
    assert not await Comment.objects.filter(post_id=post.pk).aexists()


# -- 404s through aget_object_or_404 ------------------------------------------------------------
async def test_every_url_id_that_does_not_exist_is_the_same_json_404(client):
    missing = 10**9
    for method, path in [("GET", f"/orm/posts/{missing}/"), ("DELETE", f"/orm/posts/{missing}/"),
                         ("POST", f"/orm/posts/{missing}/like/"), ("GET", f"/orm/posts/{missing}/comments/")]:
        response = await send(client, method, path)
        assert (response.status_code, response.json()) == (404, {"error": f"no post with id {missing}"}), path
    merge = await send(client, "POST", f"/orm/authors/{missing}/merge/", {"into": 1})
    assert (merge.status_code, merge.json()) == (404, {"error": f"no author with id {missing}"})


async def test_a_bad_body_is_reported_before_a_missing_post(client):
    # The lookup runs after the body is read, as before the shortcut replaced the helpers.
    response = await send(client, "POST", "/orm/posts/999999999/comments/", {"text": 5})
    assert response.status_code == 400 and response.json()["field"] == "text"


async def test_the_wrapper_answers_http404_as_json_even_without_a_pk_name():
    async def view(request):
        raise Http404("No Post matches the given query.")

    response = await answers_json_errors(view)(AsyncRequestFactory().get("/"))
    assert response.status_code == 404
    assert json.loads(response.content) == {"error": "No Post matches the given query."}


# -- pagination ---------------------------------------------------------------------------------
async def test_paged_listing_reports_its_page(client, author):
    ids = [(await new_post(client, author))["id"] for _ in range(5)]
    response = await client.get("/orm/posts/paged/", {"author": author.pk, "page": 2, "per_page": 2})
    assert response.status_code == 200
    page = response.json()
    assert [p["id"] for p in page["posts"]] == ids[2:4]
    assert {k: v for k, v in page.items() if k != "posts"} == {
        "count": 5, "num_pages": 3, "page": 2, "per_page": 2, "next_page": 3, "previous_page": 1,
        "start_index": 3, "end_index": 4, "page_links": ["1", "2", "3"],
    }
    last = (await client.get("/orm/posts/paged/", {"author": author.pk, "page": 3, "per_page": 2})).json()
    assert (last["next_page"], last["end_index"], [p["id"] for p in last["posts"]]) == (None, 5, ids[4:])
    first = (await client.get("/orm/posts/paged/", {"author": author.pk})).json()
    assert (first["page"], first["previous_page"], first["num_pages"], len(first["posts"])) == (1, None, 1, 5)


@pytest.mark.parametrize(
    "query, status",
    [({"page": "x"}, 400), ({"page": "0"}, 400), ({"page": "-1"}, 400), ({"page": "1.5"}, 400),
     ({"page": "9" * 30}, 400), ({"per_page": "0"}, 400), ({"per_page": "101"}, 400), ({"sort": "id"}, 400),
     ({"page": "999999"}, 404)],
)
async def test_paged_listing_refuses_bad_pages(client, query, status):
    response = await client.get("/orm/posts/paged/", query)
    assert response.status_code == status
    assert response.json()["parameter"] in query
    if status == 404:
        assert "That page contains no results; the last page is" in response.json()["error"]


async def test_the_listing_queryset_is_ordered_so_pages_never_overlap():
    # annotate(Count(...)) adds a GROUP BY, which turns Meta.ordering off; the query orders by id.
    assert posts_for_listing().ordered
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnorderedObjectListWarning)
        AsyncPaginator(posts_for_listing(), per_page=2)


# -- prefetching, fetch modes -------------------------------------------------------------------
async def test_aiterator_prefetches_per_chunk(author):
    tag = await Tag.objects.acreate(name=f"t{uuid.uuid4().hex[:8]}")
    posts = await Post.objects.abulk_create([Post(author=author, title=f"p{i}") for i in range(5)])
    await posts[0].tags.aadd(tag)
    with recording_query_threads() as statements:
        seen = [(p.pk, [t.name for t in p.tags.all()])
                async for p in Post.objects.filter(author=author).order_by("id").prefetch_related("tags").aiterator(chunk_size=2)]
    assert seen[0] == (posts[0].pk, [tag.name]) and len(seen) == 5
    assert len(statements) == 1 + 3  # the posts, then one prefetch per chunk of 2


async def test_fetch_peers_still_raises_in_async_code_and_fetch_raise_blocks(author):
    await Post.objects.abulk_create([Post(author=author, title=f"p{i}") for i in range(3)])
    peers = [p async for p in Post.objects.filter(author=author).fetch_mode(FETCH_PEERS)]
    with pytest.raises(SynchronousOnlyOperation):
        peers[0].author
    blocked = [p async for p in Post.objects.filter(author=author).fetch_mode(FETCH_RAISE)]
    with pytest.raises(FieldFetchBlocked, match="Fetching of Post.author blocked"):
        blocked[0].author
    with recording_query_threads() as statements:
        await sync_to_async(lambda: peers[0].author)()
    assert len(statements) == 1 and {p.author.pk for p in peers} == {author.pk}


# -- a nullable foreign key and a generic relation ----------------------------------------------
async def test_a_nullable_foreign_key_gives_the_reverse_manager_aremove_and_aclear(author):
    series = await Series.objects.acreate(name=f"series-{uuid.uuid4().hex[:8]}")
    posts = await Post.objects.abulk_create([Post(author=author, title=f"p{i}", series=series) for i in range(3)])
    assert not hasattr(posts[0].comments, "aremove")  # Comment.post is not nullable
    await series.posts.aremove(posts[0])
    assert await series.posts.acount() == 2
    await series.posts.aclear()
    assert await series.posts.acount() == 0 and await Post.objects.filter(author=author).acount() == 3
    await series.posts.aset(posts[:2])
    assert {p.pk async for p in series.posts.all()} == {posts[0].pk, posts[1].pk}
    await series.adelete()  # SET_NULL: the posts stay
    assert await Post.objects.filter(author=author, series__isnull=True).acount() == 3


async def test_generic_relation_manager_needs_a_cached_content_type_in_async_code(author):
    post = await Post.objects.acreate(author=author, title="noted")
    ContentType.objects.clear_cache()
    with pytest.raises(SynchronousOnlyOperation):
        post.notes  # builds the manager, which looks the ContentType up synchronously
    await sync_to_async(ContentType.objects.get_for_model)(Post)
    note = await post.notes.acreate(text="one")
    moved = await Note.objects.acreate(target=author, text="two")
    await post.notes.aadd(moved)
    assert [n.text async for n in post.notes.all()] == ["one", "two"]
    await post.notes.aremove(note)
    assert not await Note.objects.filter(pk=note.pk).aexists()  # removing a generic link deletes the row
    await post.notes.aclear()
    assert not await Note.objects.filter(pk=moved.pk).aexists()


async def test_deleting_a_post_deletes_its_notes(client, author):
    post = await new_post(client, author)
    stored = await Post.objects.aget(pk=post["id"])
    await sync_to_async(ContentType.objects.get_for_model)(Post)
    await stored.notes.acreate(text="pinned")
    response = await send(client, "DELETE", f"/orm/posts/{post['id']}/")
    assert response.json()["removed_rows"] == {"lab_async_orm.Note": 1, "lab_async_orm.Post": 1}


# -- the async.E001 check -----------------------------------------------------------------------
def test_async_unsafe_is_reported_only_by_the_deployment_checks():
    with mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}):
        assert run_checks(tags=[Tags.async_support]) == []
        assert [m.id for m in run_checks(tags=[Tags.async_support], include_deployment_checks=True)] == ["async.E001"]
    assert run_checks(tags=[Tags.async_support], include_deployment_checks=True) == []
