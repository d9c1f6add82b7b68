import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from console.access import services as access
from console.access.models import Role
from console.actions import Actor
from console.errors import WharfError
from console.hosts import services
from console.hosts.models import Host

LOCAL_SOCKET = Path("/var/run/docker.sock")


class Command(BaseCommand):
    help = "First-run set-up: an admin account and the local Docker host (safe to re-run)."

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin", help="username of the first admin")

    def handle(self, admin, **options):
        self._admin(admin)
        self._local_host()

    def _admin(self, username):
        User = get_user_model()
        if User.objects.exists():
            return
        password = os.environ.get("WHARF_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        actor = Actor.for_command("setup")
        try:
            user = access.user_create(actor=actor, username=username, password=password)
            access.grant_create(actor=actor, role=Role.objects.get(name="Admin"), user=user)
        except WharfError as exc:
            raise CommandError(f"cannot create the admin account: {exc}") from None
        if "WHARF_ADMIN_PASSWORD" in os.environ:
            self.stdout.write(f"Created admin account '{username}' with WHARF_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                f"Created admin account '{username}' with password: {password}\n"
                "It is shown only this once: log in and change it with \"Change password\" at the\n"
                "top of any page (/accounts/password_change/)."
            )

    def _local_host(self):
        url = os.environ.get("DOCKER_HOST") or (f"unix://{LOCAL_SOCKET}" if LOCAL_SOCKET.exists() else "")
        if not url or Host.objects.exists():
            return
        try:
            services.host_create(actor=Actor.for_command("setup"), name="local", url=url,
                                 description="registered at first run")  # fmt: skip
            self.stdout.write(f"Registered the local Docker host as 'local' ({url}).")
        except WharfError as exc:
            self.stdout.write(f"Could not register the local Docker host ({url}): {exc}")
