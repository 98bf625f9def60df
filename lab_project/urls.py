"""URL prefixes: one per chapter app, so a URL names the chapter it belongs to."""

from django.urls import include, path

urlpatterns = [
    path("", include("lab_project.start_here.urls")),
    path("views/", include("lab_project.async_views.urls")),
    path("orm/", include("lab_project.async_orm.urls")),
    path("bridges/", include("lab_project.bridges.urls")),
    path("upstream/", include("lab_project.slow_upstream.urls")),
    path("http/", include("lab_project.http_clients.urls")),
    path("stream/", include("lab_project.streaming_sse.urls")),
    path("middleware/", include("lab_project.middleware.urls")),
    path("signals/", include("lab_project.signals.urls")),
    path("cache/", include("lab_project.cache.urls")),
    path("chat/", include("lab_project.chat.urls")),
    path("helps/", include("lab_project.when_async_helps.urls")),
    path("mistakes/", include("lab_project.common_mistakes.urls")),
    path("time/", include("lab_project.where_the_time_goes.urls")),
    path("auth/", include("lab_project.auth_sessions.urls")),
    path("testing/", include("lab_project.testing_async.urls")),
    path("tasks/", include("lab_project.background_tasks.urls")),
    path("db/", include("lab_project.async_database.urls")),
    path("try/", include("lab_project.playground.urls")),  # cells mount here (chapter 18)
]
