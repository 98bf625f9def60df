"""``fanout_app`` plus one change to the chat consumer: no database clean-up hop per delivery.

    uvicorn lab_project.where_the_time_goes.fanout_lean_app:application

Since Channels 4.2, ``AsyncConsumer.dispatch`` awaits ``aclose_old_connections()`` before every
handler (channels/consumer.py; release notes 4.2.0: "after receiving message (but before
dispatching to consumer code)"). That is ``sync_to_async(close_old_connections)``: a hop to
asgiref's single shared thread and back for every message a consumer gets from the channel
layer, so a room of 50 makes 50 hops per chat message, all queued on that one thread.

``chat_event`` only forwards an event to the client and never touches the database, so it may
skip the hop safely: every handler that does use the database (connect, receive, disconnect)
still gets Channels' clean-up first. The benchmark measures what that is worth; the chat app
would adopt it by overriding ``dispatch`` the same way.
"""

from channels.consumer import AsyncConsumer

from lab_project.where_the_time_goes.fanout_app import application  # noqa: F401  (sets Django up first)
from lab_project.chat.consumers import ChatConsumer

DATABASE_FREE = {"chat.event"}  # message types whose handler never touches the database


async def dispatch_without_cleanup_for_deliveries(self, message: dict) -> None:
    if message["type"] in DATABASE_FREE:
        await self.chat_event(message)
    else:
        await AsyncConsumer.dispatch(self, message)


ChatConsumer.dispatch = dispatch_without_cleanup_for_deliveries
