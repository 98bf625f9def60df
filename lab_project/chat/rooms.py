"""What a room name and a display name may be, and the channel-layer group behind a room.

Room names end up in a URL, a channel-layer group name (ASCII letters, digits, ``-_.`` and
fewer than 100 characters, see ``BaseChannelLayer.require_valid_group_name``) and a database
column, so one conservative pattern serves all three.
"""

from __future__ import annotations

import re

ROOM_PATTERN = r"[A-Za-z0-9_-]{1,50}"
DISPLAY_NAME_PATTERN = r"[A-Za-z0-9_.-]{1,32}"

_ROOM = re.compile(ROOM_PATTERN)
_DISPLAY_NAME = re.compile(DISPLAY_NAME_PATTERN)

ROOM_RULE = "a room name is 1-50 letters, digits, '-' or '_'"
DISPLAY_NAME_RULE = "a display name is 1-32 letters, digits, '.', '-' or '_'"


def is_valid_room(name: object) -> bool:
    return isinstance(name, str) and _ROOM.fullmatch(name) is not None


def is_valid_display_name(name: object) -> bool:
    return isinstance(name, str) and _DISPLAY_NAME.fullmatch(name) is not None


def group_name(room: str) -> str:
    """The channel-layer group whose members are the connections in ``room``."""
    return f"chat.{room}"
