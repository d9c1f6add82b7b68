"""manage.py audit verify | export | purge: the audit trail from the command line."""

import sys
from contextlib import nullcontext
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from console.actions import Actor, long_action
from console.audit import chain, export
from console.audit.models import AuditEntry
from console.audit.selectors import chain_end
from console.errors import WharfError


class Command(BaseCommand):
    help = "Check the audit chain, export the audit trail, or purge entries past retention."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser("verify", help="check that no entry was altered or removed, against the anchors")
        exporting = commands.add_parser("export", help="write the whole trail as CSV or JSON")
        exporting.add_argument("--format", choices=("csv", "json"), default="csv")
        exporting.add_argument("--output", help="file to write (default: standard output)")
        purging = commands.add_parser(
            "purge", help="archive, then delete, the entries older than the retention period"
        )
        purging.add_argument("--days", type=int, help="retention in days (default AUDIT_RETENTION_DAYS)")
        purging.add_argument("--archive-dir", help="where the archive goes (default DATA_DIR/audit-archive)")
        purging.add_argument("--dry-run", action="store_true", help="only say what would be purged")

    def handle(self, *args, command, **options):
        try:
            getattr(self, command)(**options)
        except WharfError as exc:
            raise CommandError(str(exc)) from None

    def verify(self, **options):
        report = chain.check()
        if report.problem is None:
            self.stdout.write(f"audit chain OK: {report.summary()}")
            return
        entry, reason = report.problem
        where = f" at entry #{entry.id} ({entry.time.isoformat()}, {entry.action})" if entry else ""
        self.stderr.write(f"audit chain broken{where}: {reason}")
        sys.exit(1)

    def export(self, format, output=None, **options):
        actor = Actor.for_command("audit export")
        through_id = chain_end()  # a snapshot, without the export's own entry
        params = {"format": format, "output": output or "(standard output)"}
        with open(output, "wb") if output else nullcontext() as out:
            write = out.write if out else (lambda chunk: self.stdout.write(chunk.decode(), ending=""))
            with long_action(actor, "audit.export", params=params) as progress:
                for chunk in export.ENCODERS[format](export.batches(AuditEntry.objects.all(), through_id)):
                    write(chunk)
                    progress.size += len(chunk)
        if output:
            self.stderr.write(f"exported {progress.size} bytes to {output}")

    def purge(self, days=None, archive_dir=None, dry_run=False, **options):
        result = export.audit_purge(
            actor=Actor.for_command("audit purge"), days=days,
            archive_dir=Path(archive_dir) if archive_dir else None, dry_run=dry_run,
        )  # fmt: skip
        older = f"older than {result.cutoff:%Y-%m-%d %H:%M:%S %Z}"
        if result.through_id is None:
            self.stdout.write(f"nothing to purge: no entries {older}")
        elif dry_run:
            self.stdout.write(f"would purge {result.count} entries {older} (up to #{result.through_id})")
        else:
            self.stdout.write(
                f"purged {result.count} entries {older} (up to #{result.through_id}); "
                f"archive: {result.archive}"
            )
