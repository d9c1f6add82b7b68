import os
import secrets
import stat
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

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
        """Register the Docker found on this machine as 'local', and say what was found."""
        names = list(Host.objects.order_by("name").values_list("name", flat=True))
        if names:
            self.stdout.write(f"Docker hosts: {', '.join(names)}.")
            return
        url = os.environ.get("DOCKER_HOST", "")
        if url:
            found = f"DOCKER_HOST is {url}"
        elif LOCAL_SOCKET.exists():
            url, found = f"unix://{LOCAL_SOCKET}", f"Found the Docker socket {LOCAL_SOCKET}"
        else:
            self.stdout.write(
                f"No Docker found: DOCKER_HOST is not set and {LOCAL_SOCKET} does not exist.\n"
                + _add_host_hint()
            )
            return
        actor = Actor.for_command("setup")
        try:
            host = services.host_create(actor=actor, name="local", url=url,
                                        description="registered at first run")  # fmt: skip
        except WharfError as exc:
            self.stdout.write(f"{found}, but it could not be registered: {exc}\n{_add_host_hint()}")
            return
        try:
            version = services.host_test(actor=actor, host=host)
        except WharfError as exc:
            self.stdout.write(
                f"{found}: registered as host 'local', but it does not answer: {exc}."
                f"{_socket_hint(url)}\nIt shows as down on the Hosts page until then."
            )
        else:
            self.stdout.write(f"{found}: registered as host 'local' (Docker {version.get('Version', '?')}).")


def _add_host_hint():
    bind = os.environ.get("WHARF_BIND", "127.0.0.1")
    address = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
    page = f"http://{address}:{os.environ.get('WHARF_PORT', '8000')}{reverse('hosts:add')}"
    return (
        f"Add a Docker host on {page} (logged in as an admin) or with\n"
        "  manage.py addhost NAME URL   (unix://, tcp:// with --tls-*, ssh://user@host)\n"
        "No Docker of your own? `scripts/run --demo` starts throw-away local daemons "
        "(needs root and dockerd)."
    )


def _socket_hint(url):
    """Why a unix socket that exists cannot be used by this user, if that is the reason."""
    path = url.removeprefix("unix://")
    if not url.startswith("unix://") or not os.path.exists(path) or os.access(path, os.R_OK | os.W_OK):
        return ""
    st = os.stat(path)
    return (
        f"\nThis user (uid {os.getuid()}) may not open {path} (owner uid {st.st_uid}, group "
        f"{st.st_gid}, mode {stat.filemode(st.st_mode)}): run the console as a member of group "
        f"{st.st_gid} (in a container: --group-add {st.st_gid}) or as root."
    )
