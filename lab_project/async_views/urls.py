from django.urls import path

from lab_project.async_views import decorated, views

app_name = "async_views"
urlpatterns = [
    path("pause/", views.pause, name="pause"),
    path("sum/", views.Sum.as_view(), name="sum"),
    # Django's view decorators on async views (chapter 1, second half).
    path("decorated/cacheable/", decorated.cacheable, name="cacheable"),
    path("decorated/private/", decorated.private, name="private"),
    path("decorated/versioned/", decorated.versioned, name="versioned"),
    path("decorated/long-text/", decorated.long_text, name="long-text"),
    path("decorated/no-slash/", decorated.no_slash, name="no-slash"),
    path("decorated/csp/", decorated.with_csp, name="csp"),
    path("decorated/form/", decorated.form_echo, name="form"),
    path("decorated/headlines/", decorated.Headlines.as_view(), name="headlines"),
    path("decorated/greeter/", decorated.greeter, name="greeter"),
    path("decorated/stream/", decorated.stream, name="stream"),
]
