"""QuerySets the views share, each loading the relations its JSON shape needs up front.

In async code nothing may be fetched lazily (that would be sync I/O on the event loop), so a
view must say *before* evaluating which relations it will touch: ``select_related`` joins a
foreign key into the same query, ``prefetch_related`` runs one extra query per relation.

Looking one up by the URL's id is Django's ``aget_object_or_404(posts_for_detail(), pk=pk)``;
``json_api.answers_json_errors`` turns its ``Http404`` into this API's JSON 404.
"""

from __future__ import annotations

from django.db.models import Count, QuerySet

from lab_project.async_orm.models import Author, Post


def posts_for_listing() -> QuerySet[Post]:
    return (
        Post.objects.select_related("author")
        .prefetch_related("tags")
        .annotate(comment_count=Count("comments", distinct=True))
        # Meta.ordering does not apply once annotate() adds a GROUP BY, so a paginator would
        # warn (UnorderedObjectListWarning) and pages could overlap: order explicitly.
        .order_by("id")
    )


def posts_for_detail() -> QuerySet[Post]:
    return posts_for_listing().prefetch_related("comments")


def post_summary(post: Post) -> dict:
    """JSON for a post from ``posts_for_listing()`` (touches only preloaded relations)."""
    return {
        "id": post.pk,
        "title": post.title,
        "author": {"id": post.author.pk, "name": post.author.name},
        "tags": [tag.name for tag in post.tags.all()],  # served from the prefetch cache
        "likes": post.likes,
        "comment_count": post.comment_count,
    }


def post_detail(post: Post) -> dict:
    """JSON for a post from ``posts_for_detail()``."""
    return {
        **post_summary(post),
        "body": post.body,
        "comments": [{"id": c.pk, "text": c.text} for c in post.comments.all()],
    }


def author_json(author: Author) -> dict:
    return {"id": author.pk, "name": author.name, "bio": author.bio}
