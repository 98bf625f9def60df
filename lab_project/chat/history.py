"""A room's recent messages, kept with the async ORM.

Every call is a Django ``a``-method, so the consumer awaits them without blocking its event
loop (chapter 2 shows they run the sync ORM in a thread underneath).
"""

from __future__ import annotations

from lab_project.chat.models import Message


async def remember(room: str, user: str, text: str, keep: int) -> Message:
    """Store a message and drop the room's older ones beyond the newest ``keep``."""
    message = await Message.objects.acreate(room=room, user=user, text=text)
    newest = Message.objects.filter(room=room).order_by("-id")
    oldest_kept = await newest.values_list("id", flat=True)[keep - 1 : keep].afirst()
    if oldest_kept is not None:
        await Message.objects.filter(room=room, id__lt=oldest_kept).adelete()
    return message


async def recent(room: str, count: int) -> list[Message]:
    """The room's last ``count`` messages, oldest first."""
    newest_first = [m async for m in Message.objects.filter(room=room).order_by("-id")[:count]]
    return newest_first[::-1]
