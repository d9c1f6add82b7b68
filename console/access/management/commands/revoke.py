"""manage.py revoke USER ROLE [--host NAME] [--label KEY=VALUE] [--group]"""

from django.core.management.base import CommandError

from console.access import services
from console.access.management.commands.grant import Command as GrantCommand


class Command(GrantCommand):
    help = (
        "Take back the grant of ROLE to user USER (or group USER with --group) made with the "
        "same --host and --label."
    )
    verb = "revoke"

    def act(self, actor, fields, existing):
        if existing is None:
            grant = self.describe(fields)
            holder = grant.holder[:1].upper() + grant.holder[1:]
            raise CommandError(f"{holder} has no grant of {grant.role} on {grant.where}.")
        services.grant_delete(actor=actor, grant=existing)
        self.stdout.write(self.style.SUCCESS(f"Revoked {existing}."))
