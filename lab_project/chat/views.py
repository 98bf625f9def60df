"""The room page: the same room the cells talk to, watched and used from a browser."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from lab_project.chat.layer import layer_health
from lab_project.chat.rooms import ROOM_RULE, is_valid_room
from lab_project.params import QueryParams, answers_bad_input


@require_safe
async def room_page(request, room: str):
    if not is_valid_room(room):
        return JsonResponse({"error": f"bad room name: {ROOM_RULE}"}, status=400)
    return render(request, "chat/room.html", {"room": room})


@require_safe
@answers_bad_input
async def channel_layer_health(request):
    """200 while this process's channel layer works, 503 (with the error) while it does not.

    ``/health/`` says the server is alive; this says whether chat can work (a readiness check).
    """
    QueryParams(request.GET)  # no parameters: any one is refused
    report = await layer_health()
    return JsonResponse(report, status=200 if report["ok"] else 503)
