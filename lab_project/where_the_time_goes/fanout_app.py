"""The lab's ASGI app with the chat's flood guard widened, for the fan-out benchmark only.

    uvicorn lab_project.where_the_time_goes.fanout_app:application

A chat connection may send 5 messages at once, then 2 per second (``chat/limits.py``). That is
right for people and wrong for a throughput measurement: with it, the benchmark would measure
the limiter, not the channel layer. Everything else — routing, origin check, session, history
writes, the channel layer chosen by ``LAB_CHANNEL_LAYER`` — is the served chat unchanged.
"""

from lab_project.asgi import application  # noqa: F401  (sets Django up first)
from lab_project.chat.consumers import ChatConsumer
from lab_project.chat.limits import ChatLimits

ChatConsumer.limits = ChatLimits(burst=1_000_000, per_second=1_000_000.0)
