from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from console.access.views import PasswordChange

urlpatterns = [
    path("", RedirectView.as_view(url="/hosts/", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", PasswordChange.as_view(), name="password_change"),
    path(
        "accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),  # fmt: skip
    path("hosts/", include("console.hosts.urls")),
    path("access/", include("console.access.urls")),
    path("audit/", include("console.audit.urls")),
    path("registries/", include("console.registries.urls")),
    path("", include("console.containers.urls")),
    path("", include("console.streams.urls")),
    path("", include("console.terminals.urls")),
    path("", include("console.streams.event_urls")),
    path("", include("console.images.urls")),
]
