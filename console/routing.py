"""Websocket routes (see console/streams/consumers.py for the close codes)."""

from django.urls import path

from console.streams.consumers import EventConsumer, LogConsumer, PullConsumer, PushConsumer
from console.terminals.consumers import AttachConsumer, ExecConsumer

websocket_urlpatterns = [
    path("ws/hosts/<str:host>/containers/<str:ref>/logs/", LogConsumer.as_asgi()),
    path("ws/hosts/<str:host>/containers/<str:ref>/exec/", ExecConsumer.as_asgi()),
    path("ws/hosts/<str:host>/containers/<str:ref>/attach/", AttachConsumer.as_asgi()),
    path("ws/hosts/<str:host>/images/pull/", PullConsumer.as_asgi()),
    path("ws/hosts/<str:host>/images/push/", PushConsumer.as_asgi()),
    path("ws/hosts/<str:host>/events/", EventConsumer.as_asgi()),
]
