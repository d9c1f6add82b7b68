"""Big tables (containers, images): each column's header, sort key and cell markup side by
side, rows filled without the template engine.

A list can hold thousands of rows, and rendering each through Django's template engine
cost more than asking Docker for them (measured: 150 ms per 1000 container rows against
about 7 ms here; see bench/containers_list). Escaping stays automatic: a cell is constant
markup whose `{field}`s are filled with `str.format_map` through a mapping that escapes
every value, unless it was made as `Markup` from escaped parts. A row's HTML is
remembered (a list read again is mostly the same rows), and the page is rendered with a
marker where the rows go, put in once at the end (`render_with_rows`): a string of a
megabyte copied at every level of the templates cost more than the rows themselves.
"""

import secrets
import threading
from dataclasses import dataclass
from html import escape
from itertools import islice

from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

_ROWS = f"<!--rows {secrets.token_hex(8)}-->"  # where the rows go (escaped text never holds "<")


class Markup(str):
    """HTML made from escaped parts: a cell takes it as it is."""


@dataclass(frozen=True)
class Column:
    header: str  # the <th>'s text (or safe markup, for a select-all box)
    sort: str | None  # the sort key, if the column sorts
    cell: str  # the <td>: its `{field}`s are the row's values, escaped
    shown: str = ""  # a table option the column needs (selectable, show_host, ...)


def select_all(name):
    return mark_safe(f'<input type="checkbox" aria-label="Select all" data-select-all="input[name={name}]">')  # noqa: S308


def shown(columns, **options):
    """The columns shown with these options."""
    return [c for c in columns if not c.shown or options.get(c.shown)]


class Memo(dict):
    """`make(key)`, remembered: a list repeats its images, states, times and hosts."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


ROWS_KEPT = 10_000  # rows' HTML remembered (a few MB); past that the older half is dropped
_made = {}  # (markup, the row's values) -> its HTML
_made_lock = threading.Lock()


class _Escaped(dict):
    def __missing__(self, value):
        text = self[value] = escape(value if type(value) is str else str(value))
        return text


def rows_html(rows, columns, values_of, row="<tr>", key_of=None):
    """The rows as HTML: `row` (markup, with fields too) and the columns' cells, filled
    with `values_of(row)` escaped (a value is escaped by its text: give no booleans,
    which would share the text of 1 and 0). A row's HTML is a function of its markup
    and values alone, so the HTML of rows already seen is remembered, found by their
    values or, quicker, by `key_of(row)`: a tuple of everything `values_of` reads."""
    escaped = _Escaped()
    markup = row + "".join(c.cell for c in columns) + "</tr>"
    fill, made = markup.format_map, _made

    def html(r):
        values = None
        if key_of is None:
            values = values_of(r)
            key = (markup, *values.values())
        else:
            key = (markup, *key_of(r))
        text = made.get(key)
        if text is None:
            values = values or values_of(r)
            text = fill({k: v if type(v) is Markup else escaped[v] for k, v in values.items()})
            with _made_lock:
                if len(made) >= ROWS_KEPT:
                    for old in list(islice(made, ROWS_KEPT // 2)):
                        del made[old]
                made[key] = text
        return text

    return mark_safe("\n".join(map(html, rows)))  # noqa: S308


def render_with_rows(request, template, context, rows_html, status=200):
    """`render` with `{{ rows_html }}` in the template standing for `rows_html`, put in
    once the rest is rendered."""
    response = render(request, template, {**context, "rows_html": mark_safe(_ROWS)}, status=status)  # noqa: S308
    before, found, after = response.content.partition(_ROWS.encode())
    if found:
        response.content = [before, rows_html.encode(), after]
    return response


def sort_link(params, sort, key):
    """(query string, arrow, aria-sort) for a column header; click again to reverse.
    `params(sort=...)` gives the list's query with another sort."""
    if key is None:
        return None
    current, descending = sort.lstrip("-"), sort.startswith("-")
    new = f"-{key}" if current == key and not descending else key
    if current != key:
        return urlencode(params(sort=new)), "", ""
    return urlencode(params(sort=new)), "▼" if descending else "▲", "descending" if descending else "ascending"
