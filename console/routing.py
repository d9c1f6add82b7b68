"""Websocket routes (logs, terminals) are added by the streaming work."""

websocket_urlpatterns = []
