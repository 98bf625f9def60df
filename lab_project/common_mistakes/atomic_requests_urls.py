"""URLs for the ATOMIC_REQUESTS server: the lab's own, behind a sync ``/health/``.

The lab's ``/health/`` (which the process helper polls to know a server is up) is an async
view, and under ATOMIC_REQUESTS Django refuses every async view that has not opted out.
"""

from django.http import JsonResponse
from django.urls import include, path


def health(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("health/", health),
    path("", include("lab_project.urls")),
]
