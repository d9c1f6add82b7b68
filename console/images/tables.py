"""The image table's rows as HTML, built here rather than in the template: a list across
hosts holds thousands of rows and the template engine cost far more than asking Docker
for them (see bench/images_list). Every value from Docker goes through `escape`."""

import time
from html import escape

from django.urls import reverse
from django.utils.safestring import mark_safe

from console import cli
from console.containers.tables import _Escaped


def rows_html(rows, *, show_host, selectable, no_trunc):
    """The <tr> elements of an image table (columns as images/_table.html heads them)."""
    now = time.time()
    e = _Escaped()
    bases, lists, times, sizes = {}, {}, {}, {}
    out = []
    for r in rows:
        host = e[r.host.name]
        base = bases.get(host)
        if base is None:
            base = bases[host] = escape(reverse("images:detail", args=[r.host.name, "x"])[:-2])
            lists[host] = escape(reverse("images:host", args=[r.host.name]))
        when = times.get(r.created)
        if when is None:
            title = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(r.created))
            when = times[r.created] = f'<td title="{title}">{cli.since(now - r.created)}</td>'
        size = sizes.get(r.size)
        if size is None:
            size = sizes[r.size] = f'<td title="{r.size} bytes">{cli.size(r.size)}</td>'
        repository, tag, full = e[r.repository], e[r.tag], e[r.id]
        short = full if no_trunc else e[r.short_id]
        cells = [f'<tr data-host="{host}">']
        if selectable:
            cells.append(
                f'<td><input type="checkbox" name="i" value="{host}/{e[r.reference]}" '
                f'aria-label="Select {repository}:{tag} on {host}"></td>'
            )
        cells.append(
            f'<td class="mono">{repository}</td><td class="mono">{tag}</td>'
            f'<td><a href="{base}{e[r.short_id]}/"><code class="copyable" title="{full}">{short}</code></a></td>'
            f"{when}{size}<td>{'?' if r.containers is None else r.containers}</td>"
        )
        if show_host:
            cells.append(f'<td><a href="{lists[host]}">{host}</a></td>')
        cells.append("</tr>")
        out.append("".join(cells))
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
