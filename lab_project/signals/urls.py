from django.urls import path

from lab_project.async_orm.json_api import by_method
from lab_project.signals import views

app_name = "signals"
urlpatterns = [
    path("asave/", by_method(POST=views.save_with_asave), name="asave"),
    path("asend/", by_method(POST=views.send_with_asend), name="asend"),
    path("send/", views.send_from_sync_view, name="send"),
    path("journal/", by_method(GET=views.read_journal, DELETE=views.clear_journal), name="journal"),
]
