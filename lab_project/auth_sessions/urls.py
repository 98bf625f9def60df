from django.urls import path

from lab_project.async_orm.json_api import by_method
from lab_project.auth_sessions import views

app_name = "auth_sessions"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("whoami/", views.whoami_view, name="whoami"),
    path("request-user/", by_method(GET=views.request_user), name="request-user"),
    path("password/", by_method(POST=views.change_password), name="password"),
    path("members/", by_method(GET=views.members), name="members"),
    path("staff/", by_method(GET=views.staff_only), name="staff"),
    path("users/", by_method(GET=views.user_count), name="users"),
    path("users/strict/", by_method(GET=views.user_count_strict), name="users-strict"),
    path("visits/", by_method(POST=views.visits), name="visits"),
]
