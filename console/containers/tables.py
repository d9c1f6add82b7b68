"""The container table: each column's header and its cell's markup side by side.

A list can hold thousands of containers, and rendering each row through Django's
template engine cost more than asking Docker for them (measured: 150 ms per 1000 rows
against 7 ms here; see bench/containers_list), so rows are filled from the cell markup
below with `str.format_map`. Escaping stays automatic: every value a cell names is
escaped on its way into the cell (container names, images, commands, labels and status
texts are untrusted); only values made here as `Markup` pass as they are. The command reads as in
`docker ps` (quoted; the title holds the whole of it, as `--no-trunc`).
"""

import time
from dataclasses import dataclass
from html import escape

from django.urls import reverse
from django.utils.safestring import mark_safe

from console import cli

STATE_CLASSES = {  # colours from wharf.css
    "running": "status-up", "paused": "outcome-failed", "restarting": "outcome-failed",
    "exited": "status-down", "dead": "status-down",
}  # fmt: skip


@dataclass(frozen=True)
class Column:
    header: str  # the <th>'s text (or markup, for the select-all box)
    sort: str | None  # the sort key, if the column sorts
    cell: str  # the <td>: `{field}`s are escaped values of the row
    shown: str = ""  # a table option the column needs: selectable, show_host, show_labels


SELECT_ALL = mark_safe('<input type="checkbox" aria-label="Select all" data-select-all="input[name=c]">')
COLUMNS = (
    Column(SELECT_ALL, None, '<td><input type="checkbox" name="c" value="{host}/{id}" aria-label="select {name}"></td>',
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
    """The columns shown with these options (selectable, show_host, show_labels)."""
    return [c for c in COLUMNS if not c.shown or options.get(c.shown)]


class Markup(str):
    """HTML made here from escaped parts: a cell takes it as it is."""


class _Memo(dict):
    """`make(key)` remembered: a list repeats its images, states, commands, times and hosts."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


def _escaping(escaped):
    class Escaping(dict):
        """A row's values as its cells read them: escaped, unless made here as `Markup`."""

        def __getitem__(self, key):
            value = dict.__getitem__(self, key)
            return value if type(value) is Markup else escaped[value]

    return Escaping


def rows_html(rows, *, show_host, show_labels, selectable):
    """The <tr> elements of a container table."""
    shown = columns(show_host=show_host, show_labels=show_labels, selectable=selectable)
    row_markup = '<tr data-host="{host}" data-name="{name}">' + "".join(c.cell for c in shown) + "</tr>"
    now = time.time()
    base = _Memo(lambda host: reverse("containers:host", args=[host]))
    command = _Memo(lambda c: (cli.ps_command(c), cli.ps_command(c, 40)))
    created = _Memo(lambda t: (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)), cli.since(now - t)))
    health = _Memo(lambda h: Markup(HEALTH.format(escape(h)) if h else ""))
    values = _escaping(_Memo(escape))  # escaped text remembered for this table only
    out = []
    for r in rows:
        url, short = base[r.host.name], r.id[:12]
        labels = Markup(" ".join(LABEL.format(escape(k), escape(v)) for k, v in sorted(r.labels.items()))
                        if show_labels else "")  # fmt: skip
        out.append(row_markup.format_map(values(
            host=r.host.name, host_url=url, id=r.id, short_id=short, name=r.name, url=f"{url}{short}/",
            image=r.image, state=r.state, state_class=STATE_CLASSES.get(r.state, "muted"), status=r.status,
            ports=r.ports, command=command[r.command][0], command_cut=command[r.command][1],
            created_at=created[r.created][0], created_ago=created[r.created][1], health=health[r.health],
            labels=labels,
        )))  # fmt: skip
    return mark_safe("\n".join(out))  # noqa: S308 - `values` escapes every value
