"""manage.py grant USER ROLE [--host NAME] [--label KEY=VALUE] [--group]"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from console.access import services
from console.access.models import Grant, Role
from console.actions import Actor
from console.errors import WharfError
from console.hosts.models import Host


class Command(BaseCommand):
    help = (
        "Give ROLE to user USER (or group USER with --group), on all hosts or one (--host), "
        "optionally only for containers labelled KEY=VALUE (--label). Granting again is a no-op."
    )
    verb = "grant"

    def add_arguments(self, parser):
        parser.add_argument("holder", metavar="USER", help="user name (a group name with --group)")
        parser.add_argument("role", metavar="ROLE", help="role name, e.g. Developer")
        parser.add_argument("--host", metavar="NAME", help="only on this host (default: every host)")
        parser.add_argument(
            "--label", metavar="KEY=VALUE", default="",
            help="only containers carrying this label (container actions; the host stays visible)",
        )  # fmt: skip
        parser.add_argument("--group", action="store_true", help="USER names a group")

    def handle(self, *args, **options):
        fields = self.grant_fields(options)
        existing = services.find_grant(**fields)
        try:
            self.act(Actor.for_command(self.verb), fields, existing)
        except WharfError as exc:
            raise CommandError(str(exc)) from None

    def act(self, actor, fields, existing):
        if existing is not None:
            self.stdout.write(f"Already granted: {existing}.")
            return
        grant = services.grant_create(actor=actor, **fields)
        self.stdout.write(self.style.SUCCESS(f"Granted {grant}."))

    def grant_fields(self, options):
        name = options["holder"]
        if options["group"]:
            holder = Group.objects.filter(name=name).first()
            if holder is None:
                raise CommandError(f"No group named {name!r}.")
        else:
            holder = get_user_model().objects.filter(username=name).first()
            if holder is None:
                hint = " (it is a group: add --group)" if Group.objects.filter(name=name).exists() else ""
                raise CommandError(f"No user named {name!r}{hint}.")
        role = Role.objects.filter(name=options["role"]).first()
        if role is None:
            names = ", ".join(Role.objects.values_list("name", flat=True))
            raise CommandError(f"No role named {options['role']!r}. Roles: {names}.")
        host = None
        if options["host"]:
            host = Host.objects.filter(name=options["host"]).first()
            if host is None:
                names = ", ".join(Host.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"No host named {options['host']!r}. Hosts: {names}.")
        try:
            key, value = services.parse_label(options["label"])
        except WharfError as exc:
            raise CommandError(str(exc)) from None
        kind = "group" if options["group"] else "user"
        return {"role": role, kind: holder, "host": host, "label": f"{key}={value}" if key else ""}

    @staticmethod
    def describe(fields):
        """An unsaved grant, for messages about one that does not exist."""
        key, _, value = fields["label"].partition("=")
        return Grant(
            role=fields["role"], user=fields.get("user"), group=fields.get("group"),
            host=fields["host"], label_key=key, label_value=value,
        )  # fmt: skip
