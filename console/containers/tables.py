"""The container table's columns (header, sort key, cell) and rows (see console/tables.py).
The command reads as in `docker ps` (quoted; the title holds the whole, as `--no-trunc`)."""

import time
from html import escape

from django.urls import reverse

from console import cli
from console.tables import Column, Markup, Memo, select_all
from console.tables import rows_html as fill
from console.tables import shown as shown_columns

STATE_CLASSES = {  # colours from wharf.css
    "running": "status-up", "paused": "outcome-failed", "restarting": "outcome-failed",
    "exited": "status-down", "dead": "status-down",
}  # fmt: skip
COLUMNS = (
    Column(select_all("c"), None,
           '<td><input type="checkbox" name="c" value="{host}/{id}" aria-label="select {name}"></td>',
           shown="selectable"),  # fmt: skip
    Column("Name", "name", '<td><a href="{url}">{name}</a><br><span class="muted mono">{short_id}</span></td>'),
    Column("Image", "image", '<td class="mono">{image}</td>'),
    Column("Command", None, '<td class="mono cmd" title="{command}">{command_cut}</td>'),
    Column("State", "state", '<td><span class="state {state_class}">{state}</span>{health}</td>'),
    Column("Status", "status", "<td>{status}</td>"),
    Column("Created", "created", '<td title="{created_at}">{created_ago}</td>'),
    Column("Ports", None, '<td class="mono">{ports}</td>'),
    Column("Host", "host", '<td><a href="{host_url}">{host}</a></td>', shown="show_host"),
    Column("Labels", None, "<td>{labels}</td>", shown="show_labels"),
)
HEALTH = '<span class="health health-{0}">{0}</span>'
LABEL = "<code>{0}={1}</code>"


def columns(**options):
    return shown_columns(COLUMNS, **options)


def rows_html(rows, **options):
    """The <tr> elements of a container table (options: selectable, show_host, show_labels)."""
    now = time.time()
    base = Memo(lambda host: reverse("containers:host", args=[host]))
    command = Memo(lambda c: (cli.ps_command(c), cli.ps_command(c, 40)))
    created = Memo(lambda t: (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)), cli.since(now - t)))
    health = Memo(lambda h: Markup(HEALTH.format(escape(h)) if h else ""))
    with_labels = options.get("show_labels")

    def values(r):
        url, short = base[r.host.name], r.id[:12]
        labels = " ".join(LABEL.format(escape(k), escape(v)) for k, v in sorted(r.labels.items())) if with_labels else ""
        return dict(
            host=r.host.name, host_url=url, id=r.id, short_id=short, name=r.name, url=f"{url}{short}/",
            image=r.image, state=r.state, state_class=STATE_CLASSES.get(r.state, "muted"), status=r.status,
            ports=r.ports, command=command[r.command][0], command_cut=command[r.command][1],
            created_at=created[r.created][0], created_ago=created[r.created][1], health=health[r.health],
            labels=Markup(labels),
        )  # fmt: skip

    def key(r):  # everything `values` reads
        return (
            r.host.name, r.id, r.name, r.image, r.command, r.state, r.status, r.ports, r.created,
            created[r.created][1], r.health, tuple(sorted(r.labels.items())) if with_labels else (),
        )  # fmt: skip

    return fill(rows, columns(**options), values, '<tr data-host="{host}" data-name="{name}">', key)
