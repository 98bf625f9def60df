from django.urls import path

from lab_project.cache import views

app_name = "cache"
urlpatterns = [
    path("", views.backend_list, name="backends"),
    path("<str:backend>/items/<str:key>/", views.item, name="item"),
    path("<str:backend>/items/<str:key>/get-or-set/", views.get_or_set, name="get-or-set"),
    path("<str:backend>/items/<str:key>/incr/", views.incr, name="incr"),
    path("<str:backend>/threads/", views.thread_probe, name="threads"),
]
