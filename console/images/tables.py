"""The image table's columns (header, sort key, cell) and rows (see console/tables.py)."""

import time

from django.urls import reverse

from console import cli
from console.tables import Column, Memo, select_all
from console.tables import rows_html as fill
from console.tables import shown as shown_columns

COLUMNS = (
    Column(select_all("i"), None,
           '<td><input type="checkbox" name="i" value="{host}/{reference}" '
           'aria-label="Select {repository}:{tag} on {host}"></td>', shown="selectable"),  # fmt: skip
    Column("Repository", "repository", '<td class="mono">{repository}</td>'),
    Column("Tag", "tag", '<td class="mono">{tag}</td>'),
    Column("Image id", None, '<td><a href="{url}"><code class="copyable" title="{id}">{shown_id}</code></a></td>'),
    Column("Created", "created", '<td title="{created_at}">{created_ago}</td>'),
    Column("Size", "size", '<td title="{size} bytes">{size_text}</td>'),
    Column("Containers", "containers", "<td>{containers}</td>"),
    Column("Host", "host", '<td><a href="{host_url}">{host}</a></td>', shown="show_host"),
)


def columns(**options):
    return shown_columns(COLUMNS, **options)


def rows_html(rows, *, no_trunc=False, **options):
    """The <tr> elements of an image table (options: selectable, show_host)."""
    now = time.time()
    base = Memo(lambda host: reverse("images:detail", args=[host, "x"])[:-2])
    host_url = Memo(lambda host: reverse("images:host", args=[host]))
    created = Memo(lambda t: (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)), cli.since(now - t)))
    size = Memo(cli.size)

    def values(r):
        return dict(
            host=r.host.name, host_url=host_url[r.host.name], reference=r.reference, repository=r.repository,
            tag=r.tag, id=r.id, shown_id=r.id if no_trunc else r.short_id, url=f"{base[r.host.name]}{r.short_id}/",
            created_at=created[r.created][0], created_ago=created[r.created][1], size=r.size,
            size_text=size[r.size], containers="?" if r.containers is None else r.containers,
        )  # fmt: skip

    def key(r):  # everything `values` reads
        return (r.host.name, r.id, r.short_id, r.repository, r.tag, r.created, created[r.created][1], r.size,
                r.containers, no_trunc)

    return fill(rows, columns(**options), values, '<tr data-host="{host}">', key)
