"""The big tables' rows (console/tables.py): a row's HTML is remembered by a key of its
inputs, so a key must change whenever anything the row shows does."""

import dataclasses
from types import SimpleNamespace

import pytest

from console import tables
from console.containers import tables as container_tables
from console.containers.services import ContainerRow
from console.images import tables as image_tables
from console.images.services import ImageRow

HOST = SimpleNamespace(name="h1")
IMAGE = ImageRow(HOST, "sha256:" + "a" * 64, "repo", "1", 1_700_000_000, 1000, "a" * 12, 2)
CONTAINER = ContainerRow(
    HOST, "b" * 64, "web", "busybox", "sleep 1", "running", "healthy", "Up 3 minutes (healthy)",
    1_700_000_000, "80/tcp", {"team": "a"},
)  # fmt: skip
OTHER = {str: lambda v: v + "<x>&", int: lambda v: v + 7, dict: lambda v: {**v, "k": "<v>"}}


def fresh(render, row):
    tables._made.clear()
    return render(row)


@pytest.mark.parametrize("row, render", [
    (IMAGE, lambda r: image_tables.rows_html([r], show_host=True, selectable=True)),
    (IMAGE, lambda r: image_tables.rows_html([r], no_trunc=True)),
    (CONTAINER, lambda r: container_tables.rows_html([r], show_host=True, show_labels=True, selectable=True)),
])  # fmt: skip
def test_a_remembered_row_changes_with_each_of_its_inputs(row, render):
    for field in dataclasses.fields(row):
        value = getattr(row, field.name)
        if field.name == "host":
            changed = dataclasses.replace(row, host=SimpleNamespace(name="h2"))
        elif value is None or type(value) not in OTHER:
            continue
        else:
            changed = dataclasses.replace(row, **{field.name: OTHER[type(value)](value)})
        tables._made.clear()
        render(row)  # remembered
        assert render(changed) == fresh(render, changed), field.name
        assert "<x>" not in render(changed)  # and escaped


def test_the_rows_go_into_the_page_once(admin_client, hosts):
    page = admin_client.get("/hosts/unix-1/images/").content.decode()
    assert tables._ROWS not in page and page.count('<tr data-host="unix-1">') >= 1
