from django.db import models


class Message(models.Model):
    """One chat message, kept so a newcomer to the room can read the last few."""

    room = models.CharField(max_length=50)
    user = models.CharField(max_length=150)
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["room", "-id"], name="chat_room_newest")]

    def __str__(self) -> str:
        return f"{self.room} · {self.user}: {self.text[:40]}"
