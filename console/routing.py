"""Websocket routes (see console/streams/consumers.py for the close codes)."""

from django.urls import path

from console.streams.consumers import EventConsumer, LogConsumer

websocket_urlpatterns = [
    path("ws/hosts/<str:host>/containers/<str:ref>/logs/", LogConsumer.as_asgi()),
    path("ws/hosts/<str:host>/events/", EventConsumer.as_asgi()),
]
