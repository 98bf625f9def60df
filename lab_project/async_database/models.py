"""One small table for chapter 17's one-query views, with a custom default manager.

The custom manager is the point of ``hidden``: ``Book.objects`` leaves hidden books out, and
django-async-backend's ``Book.async_objects`` is a plain manager of its own that does not (the
chapter shows it, and ``native.visible_books()`` filters by hand).
"""

from django.db import models


class VisibleBooks(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(hidden=False)


class Book(models.Model):
    title = models.CharField(max_length=200)
    hidden = models.BooleanField(default=False)

    objects = VisibleBooks()
    every_book = models.Manager()

    class Meta:
        ordering = ["id"]
        base_manager_name = "every_book"

    def __str__(self) -> str:
        return self.title
