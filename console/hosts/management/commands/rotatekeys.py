from django.core.management.base import BaseCommand

from console.actions import Actor
from console.hosts.services import secrets_rotate


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest key in WHARF_FERNET_KEYS."

    def handle(self, **options):
        hosts, registries = secrets_rotate(actor=Actor.for_command("rotatekeys"))
        self.stdout.write(
            f"Re-encrypted the TLS material of {hosts} host(s) and the passwords of "
            f"{registries} registr{'y' if registries == 1 else 'ies'} with the newest key."
        )
