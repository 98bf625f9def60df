"""A small blog: authors write posts, posts carry tags (many-to-many) and comments.

Enough relations to show every async-ORM path that matters: a foreign key (lazy access
raises in async code), a reverse foreign key and a many-to-many (related managers with
``aadd``/``aset``/``acreate``, ``prefetch_related``), a *nullable* foreign key (a post's
series: only then does the reverse manager have ``aremove``/``aclear``) and a generic relation
(notes pinned to any object, through ``django.contrib.contenttypes``).
"""

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)
    bio = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Series(models.Model):
    """Posts may belong to a series, or to none: the foreign key to it is nullable, so taking
    a post out of a series (``series.posts.aremove(post)``) sets the key to NULL."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.name


class Note(models.Model):
    """A short note pinned to any object (a post, an author, ...) by a generic foreign key:
    the pair (content type, object id) instead of a foreign key to one table."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return self.text[:40]


class Post(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="posts")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    likes = models.PositiveIntegerField(default=0)
    tags = models.ManyToManyField(Tag, related_name="posts", blank=True)
    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts")
    notes = GenericRelation(Note)  # no column: post.notes is a manager over Note's (type, id) pair

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    text = models.CharField(max_length=1000)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text[:40]
