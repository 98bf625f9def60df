from django.urls import path

from lab_project.chat import views

app_name = "chat"
urlpatterns = [
    path("<str:room>/", views.room_page, name="room"),
    path("layer/health/", views.channel_layer_health, name="layer-health"),  # two segments: never a room
]
