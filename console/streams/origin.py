"""Channels' AllowedHostsOriginValidator, with each refusal on the record: a websocket
opened from a foreign page (cross-site websocket hijacking) is refused before the
consumer runs, and recorded as a denial of the action its route serves."""

from urllib.parse import urlparse

from asgiref.sync import sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.db import connections

from console.actions import Actor, Target, refuse
from console.hosts.models import Host


class AuditedOriginValidator(OriginValidator):
    def __init__(self, application, routes):
        hosts = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
        super().__init__(application, hosts)
        self.routes = routes

    async def __call__(self, scope, receive, send):
        origin = dict(scope.get("headers", ())).get(b"origin")
        if not self.valid_origin(urlparse(origin.decode("latin1")) if origin else None):
            # a thread of its own: the database, never the shared sync_to_async thread
            await sync_to_async(self._record, thread_sensitive=False)(scope, origin)
        return await super().__call__(scope, receive, send)

    def _record(self, scope, origin):
        path = scope.get("path", "").lstrip("/")
        for route in self.routes:
            match = route.pattern.match(path)
            consumer = getattr(route.callback, "consumer_class", None)
            if match and getattr(consumer, "action", ""):
                kwargs = match[2]
                host = Host.named(kwargs.get("host", ""))
                ref = kwargs.get("ref", "")
                reason = f"websocket from a foreign origin: {(origin or b'(none)').decode('latin1')[:200]}"
                refuse(Actor.from_scope(scope), consumer.action, host=host, target=Target(ref, ref), reason=reason)
                break
        connections.close_all()
