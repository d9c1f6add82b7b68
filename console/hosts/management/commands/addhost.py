from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from console.actions import Actor
from console.errors import WharfError
from console.hosts import services
from console.hosts.models import Host


class Command(BaseCommand):
    help = "Add a Docker host, or update it if the name exists (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("url", help="unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host")
        parser.add_argument("--tls-ca", metavar="FILE")
        parser.add_argument("--tls-cert", metavar="FILE")
        parser.add_argument("--tls-key", metavar="FILE")
        parser.add_argument("--description", default=None)
        parser.add_argument("--disabled", action="store_true", help="register it disabled")

    def handle(self, name, url, **options):
        fields = {"url": url, "enabled": not options["disabled"]}
        if options["description"] is not None:
            fields["description"] = options["description"]
        for part in ("ca", "cert", "key"):
            path = options[f"tls_{part}"]
            if path:
                fields[f"tls_{part}"] = _read_pem(path)
        actor = Actor.for_command("addhost")
        host = Host.objects.filter(name=name).first()
        try:
            if host is None:
                services.host_create(actor=actor, name=name, **fields)
                self.stdout.write(f"Added host {name} ({url}).")
            else:
                services.host_update(actor=actor, host=host, **fields)
                self.stdout.write(f"Updated host {name} ({url}).")
        except WharfError as exc:
            raise CommandError(str(exc)) from None


def _read_pem(path):
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
