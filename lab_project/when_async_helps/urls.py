from django.urls import path

from lab_project.when_async_helps import views

app_name = "when_async_helps"
# Each measured pair shares a path: <what>/async/ and <what>/sync/.
urlpatterns = [
    path("trivial/async/", views.trivial_async, name="trivial-async"),
    path("trivial/sync/", views.trivial_sync, name="trivial-sync"),
    path("io/async/", views.io_async, name="io-async"),
    path("io/sync/", views.io_sync, name="io-sync"),
    path("sync-behind/async/", views.sync_behind_async, name="sync-behind-async"),
    path("sync-behind/sync/", views.sync_behind_sync, name="sync-behind-sync"),
    path("cpu/async/", views.cpu_async, name="cpu-async"),
    path("cpu/sync/", views.cpu_sync, name="cpu-sync"),
    path("db/async/", views.db_async, name="db-async"),
    path("db/sync/", views.db_sync, name="db-sync"),
    path("sse/async/", views.sse_async, name="sse-async"),
    path("sse/sync/", views.sse_sync, name="sse-sync"),
    path("tokens/async/", views.tokens_async, name="tokens-async"),
    path("tokens/sync/", views.tokens_sync, name="tokens-sync"),
]
