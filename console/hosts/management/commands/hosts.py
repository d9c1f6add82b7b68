from django.core.management.base import BaseCommand

from console.hosts.models import Host
from console.hosts.services import host_statuses


class Command(BaseCommand):
    help = "List the configured Docker hosts with their live status."

    def handle(self, **options):
        hosts = list(Host.objects.all())
        statuses = host_statuses([h for h in hosts if h.enabled])
        rows = [("NAME", "STATUS", "ENGINE", "RUNNING", "STOPPED", "IMAGES", "URL")]
        for host in hosts:
            s = statuses.get(host.pk)
            if s is None:
                rows.append((host.name, "disabled", "", "", "", "", host.url))
            elif s.up:
                rows.append((host.name, "up", s.version, str(s.running), str(s.stopped), str(s.images), host.url))
            else:
                rows.append((host.name, f"down: {s.reason}", "", "", "", "", host.url))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
