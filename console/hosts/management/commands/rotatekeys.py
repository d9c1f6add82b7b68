from django.core.management.base import BaseCommand
from django.db import transaction

from console.actions import Actor, perform
from console.hosts.models import Host


def _reencrypt():
    with transaction.atomic():
        hosts = list(Host.objects.select_for_update())
        for host in hosts:
            # Reading decrypts with any configured key; saving encrypts with the newest.
            host.save(update_fields=["tls_ca", "tls_cert", "tls_key"])
    return len(hosts)


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest key in WHARF_FERNET_KEYS."

    def handle(self, **options):
        count = perform(Actor.for_command("rotatekeys"), "secrets.rotate", run=_reencrypt)
        self.stdout.write(f"Re-encrypted the TLS material of {count} host(s) with the newest key.")
