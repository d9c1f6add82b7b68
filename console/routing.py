"""Websocket routes (see console/streams/consumers.py for the close codes)."""

from django.urls import path

from console.streams.consumers import LogConsumer, TransferConsumer

websocket_urlpatterns = [
    path("ws/hosts/<str:host>/containers/<str:ref>/logs/", LogConsumer.as_asgi()),
    path("ws/hosts/<str:host>/images/pull/", TransferConsumer.as_asgi(verb="pull")),
    path("ws/hosts/<str:host>/images/push/", TransferConsumer.as_asgi(verb="push")),
]
