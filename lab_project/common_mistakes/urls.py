from django.urls import path

from lab_project.common_mistakes import views

app_name = "common_mistakes"
urlpatterns = [
    path("orm/sync-call/", views.orm_sync_call, name="orm-sync-call"),
    path("orm/a-method/", views.orm_a_method, name="orm-a-method"),
    path("sleep/blocking/", views.sleep_blocking, name="sleep-blocking"),
    path("sleep/awaiting/", views.sleep_awaiting, name="sleep-awaiting"),
    path("ping/", views.ping, name="ping"),
    path("wsgi/slow/", views.wsgi_slow, name="wsgi-slow"),
    path("wsgi/loop/", views.loop_report, name="wsgi-loop"),
    path("wsgi/stream/", views.async_stream, name="wsgi-stream"),
    path("atomic/async/", views.atomic_async, name="atomic-async"),
    path("atomic/async-opted-out/", views.atomic_async_opted_out, name="atomic-async-opted-out"),
    path("atomic/sync/", views.atomic_sync, name="atomic-sync"),
]
