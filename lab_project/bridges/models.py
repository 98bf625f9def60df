from django.db import models


class Note(models.Model):
    """A one-field model of the chapter's own, enough to show a QuerySet crossing the bridge."""

    text = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.text
