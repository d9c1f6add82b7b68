"""The container table's rows as HTML.

A list can hold thousands of containers; rendering each row through the template
engine cost more than asking Docker for them (see bench/containers_list), so rows
are built here. Every piece of container data (names, images, commands, labels,
status text) is untrusted and goes through `escape`. The command reads as in
`docker ps` (quoted; the title holds the whole of it, as `--no-trunc`).
"""

import time
from html import escape

from django.urls import reverse
from django.utils.safestring import mark_safe

from console import cli

STATE_CLASSES = {  # colours from wharf.css
    "running": "status-up", "paused": "outcome-failed", "restarting": "outcome-failed",
    "exited": "status-down", "dead": "status-down",
}  # fmt: skip


class _Escaped(dict):
    """`escape` with a memory: a list repeats its images, states, status texts and hosts."""

    def __missing__(self, text):
        value = self[text] = escape(text)
        return value


class _CommandCells(dict):
    """The command cell, once per distinct command (a list repeats them)."""

    def __call__(self, command):
        cell = self.get(command)
        if cell is None:
            whole, cut = escape(cli.ps_command(command)), escape(cli.ps_command(command, 40))
            cell = self[command] = f'<td class="mono cmd" title="{whole}">{cut}</td>'
        return cell


def rows_html(rows, *, show_host, show_labels, selectable):
    """The <tr> elements of a container table."""
    now = time.time()
    e = _Escaped()
    command_cell = _CommandCells()
    bases, times = {}, {}
    out = []
    for r in rows:
        host = e[r.host.name]
        base = bases.get(host)
        if base is None:
            base = bases[host] = escape(reverse("containers:host", args=[r.host.name]))
        when = times.get(r.created)
        if when is None:
            title = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(r.created))
            when = times[r.created] = f'<td title="{title}">{cli.since(now - r.created)}</td>'
        name, short = escape(r.name), escape(r.id[:12])
        cells = [f'<tr data-host="{host}" data-name="{name}">']
        if selectable:
            cells.append(
                f'<td><input type="checkbox" name="c" value="{host}/{escape(r.id)}" aria-label="select {name}"></td>'
            )
        health = f' <span class="health health-{r.health}">{r.health}</span>' if r.health else ""
        cells.append(
            f'<td><a href="{base}{short}/">{name}</a><br><span class="muted mono">{short}</span></td>'
            f'<td class="mono">{e[r.image]}</td>'
            f"{command_cell(r.command)}"
            f'<td><span class="state {STATE_CLASSES.get(r.state, "muted")}">{e[r.state]}</span>{health}</td>'
            f"<td>{e[r.status]}</td>{when}"
            f'<td class="mono">{e[r.ports]}</td>'
        )
        if show_host:
            cells.append(f'<td><a href="{base}">{host}</a></td>')
        if show_labels:
            labels = " ".join(f"<code>{e[k]}={e[v]}</code>" for k, v in sorted(r.labels.items()))
            cells.append(f"<td>{labels}</td>")
        cells.append("</tr>")
        out.append("".join(cells))
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
