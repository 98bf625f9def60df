"""The blog's JSON API, written with the async ORM only (every query is an awaited a-method or an
``async for``). Each view is small and names the a-methods it shows in its docstring.

A URL's ``<int:pk>`` is looked up with Django's ``aget_object_or_404``; the ``by_method``
wrapper (``json_api.py``) answers its ``Http404`` with the API's JSON 404."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.db.models import Avg, Count, F, Sum
from django.core.paginator import AsyncPaginator, EmptyPage
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import aget_object_or_404

from lab_project.async_orm.json_api import MAX_ID, NotFound, error
from lab_project.async_orm.models import Author, Comment, Post, Tag
from lab_project.async_orm.queries import author_json, post_detail, post_summary, posts_for_detail, posts_for_listing
from lab_project.async_orm.transactions import merge_authors
from lab_project.async_orm.validation import object_id, tag_names, text, whole_number
from lab_project.params import BadInput, QueryParams, json_object

POST_FIELDS = {"title", "body", "author", "tags"}
MAX_BODY = 10_000


async def csrf_token(request: HttpRequest) -> JsonResponse:
    """The token a client must echo in ``X-CSRFToken``; the response also sets the cookie."""
    return JsonResponse({"csrfToken": get_token(request), "header": "X-CSRFToken"})


# -- helpers that read --------------------------------------------------------------------------
async def author_by_id(author_id: int) -> Author:
    """``aget`` the author a body names; an unknown id is the client's mistake (400)."""
    try:
        return await Author.objects.aget(pk=author_id)
    except Author.DoesNotExist:
        raise BadInput("author", f"no author with id {author_id}") from None


async def tags_named(names: list[str]) -> list[Tag]:
    """``aget_or_create`` each tag: existing ones are reused, new ones created."""
    return [(await Tag.objects.aget_or_create(name=name))[0] for name in names]


async def detail_of(pk: int) -> dict:
    return post_detail(await aget_object_or_404(posts_for_detail(), pk=pk))


# -- posts --------------------------------------------------------------------------------------
def filtered_posts(params: QueryParams):
    """``posts_for_listing()`` narrowed by the optional ``?tag=`` and ``?author=``."""
    tag = params.text("tag", None, max_length=40)
    author_id = params.integer("author", None, low=1, high=MAX_ID)
    posts = posts_for_listing()
    if tag is not None:
        posts = posts.filter(tags__name=tag)
    if author_id is not None:
        posts = posts.filter(author_id=author_id)
    return posts


async def list_posts(request: HttpRequest) -> JsonResponse:
    """``async for`` over a QuerySet whose relations are preloaded; ``acount`` for the total."""
    params = QueryParams(request.GET, ["tag", "author", "limit"])
    posts = filtered_posts(params)
    limit = params.integer("limit", 100, low=1, high=500)
    items = [post_summary(post) async for post in posts[:limit]]
    return JsonResponse({"count": await posts.acount(), "posts": items})


async def page_of_posts(request: HttpRequest) -> JsonResponse:
    """``AsyncPaginator`` (Django 6.0): ``apage`` is strict, so a page past the end is a 404
    that says so, where the forgiving ``aget_page`` would quietly serve the last page."""
    params = QueryParams(request.GET, ["tag", "author", "page", "per_page"])
    posts = filtered_posts(params)
    number = params.integer("page", 1, low=1, high=MAX_ID)
    per_page = params.integer("per_page", 10, low=1, high=100)
    paginator = AsyncPaginator(posts, per_page=per_page)
    try:
        page = await paginator.apage(number)  # QueryParams refused non-integers and numbers < 1
    except EmptyPage as problem:  # past the last page: that page does not exist
        return error(404, f"page: {problem}; the last page is {await paginator.anum_pages()}", parameter="page")
    has_next, has_previous = await page.ahas_next(), await page.ahas_previous()
    return JsonResponse(
        {
            "count": await paginator.acount(),
            "num_pages": await paginator.anum_pages(),
            "page": page.number,
            "per_page": per_page,
            "next_page": await page.anext_page_number() if has_next else None,
            "previous_page": await page.aprevious_page_number() if has_previous else None,
            "start_index": await page.astart_index(),
            "end_index": await page.aend_index(),
            "page_links": [str(n) async for n in paginator.aget_elided_page_range(page.number, on_each_side=1, on_ends=1)],
            "posts": [post_summary(post) async for post in page],
        }
    )


async def create_post(request: HttpRequest) -> JsonResponse:
    """``acreate`` the post, then ``aset`` its tags through the many-to-many manager."""
    data = json_object(request, POST_FIELDS)
    title = text(data, "title", max_length=200, required=True)
    body = text(data, "body", max_length=MAX_BODY, required=False, allow_blank=True) or ""
    author_id = object_id(data, "author", required=True)
    names = tag_names(data)
    author = await author_by_id(author_id)
    post = await Post.objects.acreate(author=author, title=title, body=body)
    if names:
        await post.tags.aset(await tags_named(names))
    return JsonResponse(await detail_of(post.pk), status=201)


async def show_post(request: HttpRequest, pk: int) -> JsonResponse:
    """``aget`` on a QuerySet with ``select_related`` + ``prefetch_related``."""
    return JsonResponse(await detail_of(pk))


async def update_post(request: HttpRequest, pk: int) -> JsonResponse:
    """Change fields on the instance and ``asave(update_fields=...)``; ``aset`` replaces tags."""
    data = json_object(request, POST_FIELDS)
    if not data:
        raise BadInput("body", f"nothing to update; send one or more of {', '.join(sorted(POST_FIELDS))}")
    changes = {
        "title": text(data, "title", max_length=200, required=False),
        "body": text(data, "body", max_length=MAX_BODY, required=False, allow_blank=True),
    }
    author_id = object_id(data, "author", required=False)
    names = tag_names(data)
    post = await aget_object_or_404(Post, pk=pk)
    if author_id is not None:
        changes["author"] = await author_by_id(author_id)
    changes = {field: value for field, value in changes.items() if value is not None}
    for field, value in changes.items():
        setattr(post, field, value)
    if changes:
        await post.asave(update_fields=sorted(changes))
    if names is not None:
        await post.tags.aset(await tags_named(names))
    return JsonResponse(await detail_of(pk))


async def delete_post(request: HttpRequest, pk: int) -> JsonResponse:
    """``adelete`` on the instance; the answer lists what the cascade removed."""
    post = await aget_object_or_404(Post, pk=pk)
    _, removed = await post.adelete()
    return JsonResponse({"deleted": pk, "removed_rows": dict(sorted(removed.items()))})


async def like_post(request: HttpRequest, pk: int) -> JsonResponse:
    """``aupdate`` with an F() expression: the database adds 1, so concurrent likes never race."""
    matching = Post.objects.filter(pk=(await aget_object_or_404(Post, pk=pk)).pk)
    await matching.aupdate(likes=F("likes") + 1)
    return JsonResponse({"id": pk, "likes": await matching.values_list("likes", flat=True).afirst()})


async def list_comments(request: HttpRequest, pk: int) -> JsonResponse:
    """``async for`` over a reverse foreign key's related manager."""
    post = await aget_object_or_404(Post, pk=pk)
    return JsonResponse({"post": pk, "comments": [{"id": c.pk, "text": c.text} async for c in post.comments.all()]})


async def add_comment(request: HttpRequest, pk: int) -> JsonResponse:
    """``acreate`` on the related manager fills in the foreign key."""
    data = json_object(request, {"text"})
    comment_text = text(data, "text", max_length=1000, required=True)
    post = await aget_object_or_404(Post, pk=pk)
    comment = await post.comments.acreate(text=comment_text)
    return JsonResponse({"post": pk, "id": comment.pk, "text": comment.text}, status=201)


async def add_tags(request: HttpRequest, pk: int) -> JsonResponse:
    """``aadd`` on the many-to-many manager (tags already there are left as they are)."""
    data = json_object(request, {"tags"})
    names = tag_names(data)
    if not names:
        raise BadInput("tags", "required: a non-empty list of tag names")
    post = await aget_object_or_404(Post, pk=pk)
    await post.tags.aadd(*await tags_named(names))
    return JsonResponse({"post": pk, "tags": [tag.name async for tag in post.tags.all()]})


async def export_posts(request: HttpRequest) -> StreamingHttpResponse:
    """``aiterator`` streams rows in chunks instead of loading the whole table (NDJSON)."""
    rows = Post.objects.values("id", "title", "author__name", "likes").order_by("id")

    async def lines():
        async for row in rows.aiterator(chunk_size=100):
            yield json.dumps(row, sort_keys=True) + "\n"

    return StreamingHttpResponse(lines(), content_type="application/x-ndjson")


# -- authors ------------------------------------------------------------------------------------
async def list_authors(request: HttpRequest) -> JsonResponse:
    """An async comprehension over an annotated QuerySet."""
    authors = Author.objects.annotate(post_count=Count("posts"))
    return JsonResponse({"authors": [author_json(a) | {"posts": a.post_count} async for a in authors]})


async def upsert_author(request: HttpRequest) -> JsonResponse:
    """``aupdate_or_create`` keyed on the unique name: 201 when created, 200 when updated."""
    data = json_object(request, {"name", "bio"})
    name = text(data, "name", max_length=100, required=True)
    bio = text(data, "bio", max_length=500, required=False, allow_blank=True)
    defaults = {} if bio is None else {"bio": bio}
    author, created = await Author.objects.aupdate_or_create(name=name, defaults=defaults)
    return JsonResponse({**author_json(author), "created": created}, status=201 if created else 200)


async def merge_author(request: HttpRequest, pk: int) -> JsonResponse:
    """A multi-step write in one transaction: a sync function under ``sync_to_async``."""
    data = json_object(request, {"into"})
    into = object_id(data, "into", required=True)
    if into == pk:
        raise BadInput("into", "must be a different author than the one being merged")
    await aget_object_or_404(Author, pk=pk)
    if not await Author.objects.filter(pk=into).aexists():
        raise BadInput("into", f"no author with id {into}")
    try:
        return JsonResponse(await sync_to_async(merge_authors)(pk, into))
    except Author.DoesNotExist:  # deleted by someone else between the checks and the merge
        raise NotFound("an author of this merge no longer exists") from None


# -- whole-table views --------------------------------------------------------------------------
async def stats(request: HttpRequest) -> JsonResponse:
    """``acount``, ``aexists``, ``aaggregate``, ``afirst`` and ``alast`` in one place."""
    posts = Post.objects.all()
    totals = await posts.aaggregate(total_likes=Sum("likes"), average_likes=Avg("likes"))
    first, last = await posts.afirst(), await posts.alast()
    average = totals["average_likes"]
    return JsonResponse(
        {
            "posts": await posts.acount(),
            "authors": await Author.objects.acount(),
            "has_comments": await Comment.objects.aexists(),
            "total_likes": totals["total_likes"] or 0,
            "average_likes": None if average is None else round(average, 2),
            "first_post": first.title if first else None,
            "last_post": last.title if last else None,
        }
    )


async def seed(request: HttpRequest) -> JsonResponse:
    """``aget_or_create`` two authors and a tag, then ``abulk_create`` posts in one INSERT.

    ``abulk_create`` sends no ``post_save`` signals (chapter 7) and skips ``save()``.
    """
    data = json_object(request, {"posts"})
    count = whole_number(data, "posts", default=3, low=1, high=500)
    ada, _ = await Author.objects.aget_or_create(name="ada", defaults={"bio": "writes about engines"})
    grace, _ = await Author.objects.aget_or_create(name="grace", defaults={"bio": "writes about compilers"})
    seeded, _ = await Tag.objects.aget_or_create(name="seeded")
    start = await Post.objects.acount()
    posts = await Post.objects.abulk_create(
        [Post(author=(ada, grace)[i % 2], title=f"Seeded post {start + i + 1}") for i in range(count)]
    )
    Tagging = Post.tags.through
    await Tagging.objects.abulk_create([Tagging(post_id=p.pk, tag_id=seeded.pk) for p in posts])
    return JsonResponse(
        {"created_posts": len(posts), "first_id": posts[0].pk, "last_id": posts[-1].pk, "authors": ["ada", "grace"]},
        status=201,
    )
