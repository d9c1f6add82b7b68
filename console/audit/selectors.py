"""Reading the audit trail: filters from the querystring, keyset pages, one entry.

Pages are cut by id (`before` / `after`), never counted: they stay as fast with a
million entries as with a hundred.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.db.models import Q

from console.actions import REGISTRY
from console.audit.models import AuditEntry

PAGE_SIZE = 50
SEARCHED = ("actor_name", "target_name", "target_id", "error", "action", "host_name", "request_id")


def _moment(label):
    return forms.DateTimeField(
        label=label, required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class AuditFilters(forms.Form):
    """The filters of the list and of the exports, as they appear in the querystring."""

    user = forms.CharField(required=False, max_length=150, label="User")
    host = forms.CharField(required=False, max_length=63, label="Host")
    action = forms.ChoiceField(required=False, label="Action")
    outcome = forms.ChoiceField(
        required=False, label="Outcome", choices=[("", "any outcome"), *AuditEntry.OUTCOMES]
    )
    target = forms.CharField(required=False, max_length=255, label="Target")
    q = forms.CharField(
        required=False, max_length=200, label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "names, targets, errors, request ids"}),
    )  # fmt: skip
    request = forms.CharField(required=False, max_length=64, label="Request id")

    def __init__(self, data=None):
        super().__init__(data or {})
        self.fields["action"].choices = [("", "any action"), *((c, c) for c in sorted(REGISTRY))]
        # "from" is a Python keyword: these two are added here rather than declared above.
        self.fields["from"] = _moment("From")
        self.fields["to"] = _moment("To")
        self.order_fields(["q", "user", "host", "action", "outcome", "target", "from", "to", "request"])

    def active(self):
        """The filters given (raw text, non-empty), e.g. for the audit entry of an export."""
        return {name: self.data[name][:255] for name in self.fields if self.data.get(name)}

    def querystring(self):
        return urlencode(self.active())

    def error_text(self):
        return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in self.errors.items())


def entries(filters):
    """The entries matching valid `AuditFilters` (any order)."""
    f = filters.cleaned_data
    qs = AuditEntry.objects.all()
    exact = {"actor_name": f["user"], "host_name": f["host"], "action": f["action"],
             "outcome": f["outcome"], "request_id": f["request"]}  # fmt: skip
    qs = qs.filter(**{field: value.strip() for field, value in exact.items() if value.strip()})
    if target := f["target"].strip():
        qs = qs.filter(
            Q(target_type__icontains=target)
            | Q(target_id__icontains=target)
            | Q(target_name__icontains=target)
        )
    if f["from"]:
        qs = qs.filter(time__gte=f["from"])
    if f["to"]:
        qs = qs.filter(time__lte=f["to"])
    if text := f["q"].strip():
        match = Q()
        for field in SEARCHED:
            match |= Q(**{f"{field}__icontains": text})
        qs = qs.filter(match)
    return qs


@dataclass
class Page:
    """Up to PAGE_SIZE entries, newest first; `newer`/`older` are the cursors
    (`?after=` / `?before=`) of the neighbouring pages, None at either end."""

    entries: list
    newer: int | None = None
    older: int | None = None
    cursor: bool = False  # not the newest page: offer a way back to it


def page(queryset, before=None, after=None, size=PAGE_SIZE):
    # Table columns only: params, user agent and hashes are for the detail view.
    queryset = queryset.defer("params", "user_agent", "prev_hash", "hash", "end_hash")
    if after is not None:
        rows = list(queryset.filter(id__gt=after).order_by("id")[: size + 1])
        if len(rows) > size:
            rows = rows[:size][::-1]
            return Page(rows, newer=rows[0].id, older=rows[-1].id, cursor=True)
        before = None  # less than a page is newer: that is the newest page
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: size + 1])
    more, rows = len(rows) > size, rows[:size]
    return Page(
        rows,
        newer=rows[0].id if before is not None and rows else None,
        older=rows[-1].id if more else None,
        cursor=before is not None,
    )


def audit_page(filters, before=None, after=None):
    if not filters.is_valid():
        return Page([])
    return page(entries(filters), before=before, after=after)


def audit_entry(pk):
    return AuditEntry.objects.filter(pk=pk).first()


def chain_end():
    """The id of the newest entry (0 when there is none)."""
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
