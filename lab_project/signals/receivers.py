"""Receivers, connected when the app is ready. Registration order is deliberate: an async
receiver first, then a sync one, so the journal shows that Django runs every sync receiver
before any async one, whatever order they were connected in."""

from __future__ import annotations

import asyncio

from django.db.models.signals import post_save
from django.dispatch import receiver

from lab_project.async_orm.models import Post
from lab_project.signals import journal
from lab_project.signals.custom_signals import post_featured


# -- post_save on the blog's Post ---------------------------------------------------------------
@receiver(post_save, sender=Post, dispatch_uid="lab_signals.post_saved_async")
async def post_saved_async(sender, instance, created, **kwargs):
    """Called through ``async_to_sync`` by ``post_save.send()``, which ``save()`` uses."""
    with journal.entry("post_saved_async", "post_save", "async", note=f"post {instance.pk} created={created}"):
        pass


@receiver(post_save, sender=Post, dispatch_uid="lab_signals.post_saved_sync")
def post_saved_sync(sender, instance, created, **kwargs):
    """Runs in the thread that called ``save()``."""
    with journal.entry("post_saved_sync", "post_save", "sync", note=f"post {instance.pk} created={created}"):
        pass


# -- post_featured: two slow async receivers and a quick sync one -------------------------------
@receiver(post_featured, dispatch_uid="lab_signals.notify_followers")
async def notify_followers(sender, post_id=None, delay=0.3, **kwargs):
    with journal.entry("notify_followers", "post_featured", "async", note=f"waits {delay} s"):
        await asyncio.sleep(delay)  # stands in for an awaited network call


@receiver(post_featured, dispatch_uid="lab_signals.audit_featured")
def audit_featured(sender, post_id=None, **kwargs):
    with journal.entry("audit_featured", "post_featured", "sync"):
        pass


@receiver(post_featured, dispatch_uid="lab_signals.refresh_search_index")
async def refresh_search_index(sender, post_id=None, delay=0.3, **kwargs):
    with journal.entry("refresh_search_index", "post_featured", "async", note=f"waits {delay} s"):
        await asyncio.sleep(delay)
