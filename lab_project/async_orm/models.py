"""A small blog: authors write posts, posts carry tags (many-to-many) and comments.

Enough relations to show every async-ORM path that matters: a foreign key (lazy access
raises in async code), a reverse foreign key and a many-to-many (related managers with
``aadd``/``aset``/``acreate``, ``prefetch_related``).
"""

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


class Post(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="posts")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    likes = models.PositiveIntegerField(default=0)
    tags = models.ManyToManyField(Tag, related_name="posts", blank=True)

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
