"""A signal of the lab's own, sent with ``asend`` from async code and ``send`` from sync code."""

from django.dispatch import Signal

# Sent when a post is featured. Arguments: post_id, delay (seconds each slow receiver waits).
post_featured = Signal()
