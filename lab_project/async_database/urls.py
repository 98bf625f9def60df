from django.urls import path

from lab_project.async_database import views

app_name = "async_database"

urlpatterns = [
    path("book/", views.book, name="book"),
    path("book/native/", views.book_native, name="book_native"),
    path("sleep/", views.sleep, name="sleep"),
    path("sleep/native/", views.sleep_native, name="sleep_native"),
    path("pid/", views.pid, name="pid"),
    path("pid/native/", views.pid_native, name="pid_native"),
]
