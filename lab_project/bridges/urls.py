from django.urls import path

from lab_project.bridges import views

app_name = "bridges"
urlpatterns = [
    path("notes/", views.notes, name="notes"),
    path("threads/", views.thread_probe, name="threads"),
    path("sync-view/", views.sync_view_calling_async, name="sync-view"),
    path("sdk/", views.legacy_sdk_call, name="sdk"),
]
