"""The room page: the same room the cells talk to, watched and used from a browser."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from lab_project.chat.rooms import ROOM_RULE, is_valid_room


@require_safe
async def room_page(request, room: str):
    if not is_valid_room(room):
        return JsonResponse({"error": f"bad room name: {ROOM_RULE}"}, status=400)
    return render(request, "chat/room.html", {"room": room})
