from django.urls import path

from lab_project.async_orm import demos, views
from lab_project.async_orm.json_api import by_method

app_name = "async_orm"
urlpatterns = [
    path("csrf/", by_method(GET=views.csrf_token), name="csrf"),
    path("posts/", by_method(GET=views.list_posts, POST=views.create_post), name="posts"),
    path("posts/export/", by_method(GET=views.export_posts), name="export"),
    path("posts/paged/", by_method(GET=views.page_of_posts), name="paged"),
    path(
        "posts/<int:pk>/",
        by_method(GET=views.show_post, PATCH=views.update_post, DELETE=views.delete_post, pk_of="post"),
        name="post",
    ),
    path("posts/<int:pk>/like/", by_method(POST=views.like_post, pk_of="post"), name="like"),
    path("posts/<int:pk>/comments/", by_method(GET=views.list_comments, POST=views.add_comment, pk_of="post"), name="comments"),
    path("posts/<int:pk>/tags/", by_method(POST=views.add_tags, pk_of="post"), name="tags"),
    path("authors/", by_method(GET=views.list_authors, POST=views.upsert_author), name="authors"),
    path("authors/<int:pk>/merge/", by_method(POST=views.merge_author, pk_of="author"), name="merge"),
    path("stats/", by_method(GET=views.stats), name="stats"),
    path("seed/", by_method(POST=views.seed), name="seed"),
    path("demo/threads/", by_method(GET=demos.query_threads), name="demo-threads"),
    path("demo/sync-evaluation/", by_method(GET=demos.sync_evaluation), name="demo-sync-evaluation"),
    path("demo/lazy-relation/", by_method(GET=demos.lazy_relation), name="demo-lazy-relation"),
    path("demo/atomic-in-async/", by_method(GET=demos.atomic_in_async), name="demo-atomic"),
]
