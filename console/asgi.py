import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from console.checks import warn_at_start  # noqa: E402

warn_at_start()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from console.routing import websocket_urlpatterns  # noqa: E402
from console.streams.origin import AuditedOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # the user is known before the Origin is checked, so that a refusal names them
        "websocket": AuthMiddlewareStack(
            AuditedOriginValidator(URLRouter(websocket_urlpatterns), websocket_urlpatterns)
        ),
    }
)
