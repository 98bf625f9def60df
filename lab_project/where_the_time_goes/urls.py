from django.urls import path  # noqa: F401

app_name = "where_the_time_goes"
urlpatterns: list = []
