from django.urls import path

from lab_project.async_orm.json_api import by_method
from lab_project.background_tasks import views

app_name = "background_tasks"
urlpatterns = [
    path("backends/", by_method(GET=views.list_backends), name="backends"),
    path("jobs/", by_method(POST=views.enqueue_job), name="jobs"),
    path("jobs/<str:result_id>/", by_method(GET=views.read_job), name="job"),
    path("inline/", by_method(POST=views.run_inline), name="inline"),
]
