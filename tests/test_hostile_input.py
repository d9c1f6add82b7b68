"""Hostile values in every URL parameter (path and query) and every form field of every
view, GET and POST, as an admin (who reaches everything), against the real daemons:
never a 500, never a traceback.

The views are found by walking `console.urls`, their fields by reading the forms and
links of the rendered pages: a new view or field is covered without touching this file.
"""

from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from django.db import transaction
from django.http import QueryDict
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils.datastructures import MultiValueDict

from tests.harness import TEST_IMAGE

CORPUS = ["²", "٣", ".", "..", "-1", "1e9", "9" * 40, "a\x00b", "x" * 3000]
# Percent-encoded, as they travel in paths, queries and form bodies; %ff is invalid UTF-8.
HOSTILE = [quote(v, safe="") for v in CORPUS] + ["%ff"]
# Defaults that keep the fuzzing cheap and the fixtures alive: unpausing a running
# container is refused at once (no 10 s stop, no removal, on every request).
CHEAP = {"action": "unpause"}
SKIP_FIELDS = {"csrfmiddlewaretoken"}
TOKEN = "zqx7token"  # stands for a path parameter while a URL is built
INT_TOKEN = 987654321


def _query(pairs):
    """A query string or form body; values in `pairs` are percent-encoded already."""
    return "&".join(f"{quote(k, safe='')}={v}" for k, v in pairs)


class Forms(HTMLParser):
    """The forms of a page (action, method, fields with their first value) and the
    query parameters its links use."""

    def __init__(self, page_path):
        super().__init__()
        self.page_path = page_path
        self.forms = []  # (path, method, {field: default})
        self.link_keys = set()
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = urlsplit(a.get("action") or self.page_path).path or self.page_path
            self._form = (action, (a.get("method") or "get").lower(), {})
            self.forms.append(self._form)
        elif tag == "a" and "?" in (a.get("href") or ""):
            split = urlsplit(a["href"])
            if split.path in ("", self.page_path):
                self.link_keys |= {p.partition("=")[0] for p in split.query.split("&") if p}
        elif self._form is not None and a.get("name") and tag in ("input", "button", "select", "textarea"):
            fields = self._form[2]
            name = a["name"]
            if tag == "select":
                self._select = name
                fields.setdefault(name, "")
            elif tag == "textarea":
                self._textarea = name
                fields.setdefault(name, "")
            elif a.get("type") not in ("checkbox", "radio") or "checked" in a or name not in fields:
                fields.setdefault(name, a.get("value") or "")
        elif tag == "option" and self._select and self._form is not None:
            fields = self._form[2]
            if not fields[self._select] or "selected" in a:
                fields[self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self._form is not None and not self._form[2][self._textarea]:
            self._form[2][self._textarea] = data.strip()


def url_patterns(resolver=None, namespace=""):
    """(view name or route, parameter names) of every URL of the console."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from url_patterns(p, p.namespace or namespace)
            continue
        assert isinstance(p, URLPattern)
        params = list(getattr(p.pattern, "converters", {}) or p.pattern.regex.groupindex)
        name = f"{namespace}:{p.name}" if namespace and p.name else p.name
        yield name or "/" + str(p.pattern), params


@pytest.fixture
def world(hosts, admin_user, docker_env):
    """Real things for every kind of path parameter to name."""
    from django.contrib.auth.models import Group

    from console.access.models import Grant, Role
    from console.actions import record_event
    from console.audit.models import AuditEntry
    from tests.conftest import actor_for

    client = docker_env.client("unix-1")
    container = client.containers.run(
        TEST_IMAGE, "sleep 600", name="fuzz-target", detach=True, network_disabled=True
    )
    group = Group.objects.create(name="fuzzers")
    group.user_set.add(admin_user)
    record_event(actor_for(admin_user), "auth.login")  # an audit entry to show
    pks = {
        "access:user": admin_user.pk, "access:group": group.pk,
        "access:role": Role.objects.get(name="Viewer").pk,
        "access:grant": Grant.objects.filter(user=admin_user).first().pk,
        "audit:": AuditEntry.objects.order_by("-id").first().pk,
    }  # fmt: skip
    yield {"name": "unix-1", "ref": container.name, "fmt": "csv", "pks": pks, "container": container}
    container.remove(force=True)


def _valid_path(view, params, world):
    """The view's URL with real values, and the URL with TOKEN in place of each parameter."""
    if view.startswith("/"):
        return view, {}
    kwargs, tokens = {}, {}
    for name in params:
        if name == "pk":
            kwargs[name] = next((pk for prefix, pk in world["pks"].items() if view.startswith(prefix)), 1)
        else:
            kwargs[name] = world.get(name, "x")
        tokens[name] = INT_TOKEN if name == "pk" else f"{TOKEN}{name}"
    tokenized = {}
    for name, token in tokens.items():
        try:
            tokenized[name] = (reverse(view, kwargs={**kwargs, name: token}), token)
        except NoReverseMatch:  # a parameter bounded by its own pattern (csv|json)
            pass
    return reverse(view, kwargs=kwargs), tokenized


@pytest.fixture
def reads(monkeypatch):
    """The names views look up in request.GET and request.POST, as they look them up."""
    seen = set()

    def recording(method):
        def look_up(self, key, *args, **kwargs):
            seen.add(key)
            return method(self, key, *args, **kwargs)

        return look_up

    for name in ("get", "getlist", "__getitem__", "__contains__"):
        monkeypatch.setattr(QueryDict, name, recording(getattr(MultiValueDict, name)))
    return seen


@pytest.fixture
def plain_templates(monkeypatch):
    """Templates rendered as in production: without the test client's signal and the
    copy of every context it keeps for `response.context` (a tenth of each request)."""
    from django.template import Template
    from django.test.utils import _TestState

    monkeypatch.setattr(Template, "_render", _TestState.saved_data.template_render)


@pytest.mark.heavy(45)
def test_hostile_values_never_make_a_500(admin_client, admin_user, world, reads, plain_templates):
    from console.hosts.models import Host

    client = admin_client
    client.raise_request_exception = False
    failures, requests = [], 0

    def send(method, path, fields=(), query=(), what=""):
        nonlocal requests
        requests += 1
        if "sessionid" not in client.cookies or not client.cookies["sessionid"].value:
            client.force_login(admin_user)  # the logout view ended the session
        url = path + ("?" + _query(query) if query else "")
        with transaction.atomic():  # a deleted host, user or grant comes back for the next request
            if method == "get":
                response = client.get(url)
            else:
                body = _query(fields)
                response = client.post(url, body, content_type="application/x-www-form-urlencoded")
            body = b"".join(response.streaming_content) if response.streaming else response.content
            transaction.set_rollback(True)
        if method == "post" and response.status_code < 400:  # keep the container the URLs name running
            state = world["container"]  # (a GET or a refused POST changes nothing)
            state.reload()
            if state.status != "running":
                state.unpause() if state.status == "paused" else state.start()
        if response.status_code >= 500 and response.status_code not in (502, 504) or b"Traceback" in body:
            failures.append((method, url[:120], what, response.status_code))
        return response, body

    pages = {view: _valid_path(view, params, world) for view, params in url_patterns()}
    # The fields of every form of every page, by the path it posts to, and the names
    # each view reads from its query
    forms_by_action, query_keys = {}, {}
    for path, _ in pages.values():
        reads.clear()
        response, body = send("get", path, what="valid page")
        query_keys[path] = set(reads)
        if "html" not in response.get("Content-Type", ""):
            continue
        parser = Forms(path)
        parser.feed(body.decode(errors="replace"))
        query_keys[path] |= parser.link_keys
        for action, method, fields in parser.forms:
            fields = {k: quote(CHEAP.get(k, v), safe="") for k, v in fields.items() if k not in SKIP_FIELDS}
            if method == "post":
                forms_by_action.setdefault(action, {}).update(fields)
            else:
                query_keys[path] |= set(fields)
    for path, _ in pages.values():  # and the names a POST reads, a form or not
        reads.clear()
        send("post", path, fields=forms_by_action.get(path, {}).items(), what="valid post")
        forms_by_action[path] = {k: "" for k in reads - SKIP_FIELDS} | forms_by_action.get(path, {})

    walked = requests
    for path, tokenized in pages.values():
        fields = forms_by_action[path]
        for key in sorted(query_keys.get(path, ())):
            for value in HOSTILE:
                send("get", path, query=[(key, value)], what=f"?{key}")
        for key in sorted(fields):
            for value in HOSTILE:
                send("post", path, fields={**fields, key: value}.items(), what=f"field {key}={value[:12]}")
                head, slash, _ = fields[key].rpartition("%2F")
                if slash:  # "host/container": the hostile value after the slash
                    posted = {**fields, key: head + slash + value}
                    send("post", path, fields=posted.items(), what=f"field {key} after /")
        for name, (token_path, token) in tokenized.items():
            for value in HOSTILE:
                hostile = token_path.replace(str(token), value)
                send("get", hostile, what=f"path {name}")
                send("post", hostile, fields=fields.items(), what=f"path {name}")
    assert Host.objects.filter(name="unix-1").exists()
    assert requests - walked > 200, requests - walked  # the walk reached its views and their fields
    assert not failures, "\n".join(map(str, failures))


def test_walk_finds_every_view():
    """The walk sees the views this test is meant to cover (guards the walker itself)."""
    found = dict(url_patterns())
    for name in ("audit:list", "hosts:test-form", "containers:top", "containers:bulk", "access:group-edit"):
        assert name in found
    assert found["containers:top"] == ["name", "ref"]


def test_the_reported_inputs_get_a_clear_answer(admin_client, admin_user, world):
    """The values of the review: each a 400 or 404 that says why; a container attempt is
    on the record."""
    from console.audit.models import AuditEntry

    for url in ("/audit/?before=²", "/audit/?after=٣", "/run/?host=²"):
        response = admin_client.get(url)
        assert response.status_code == 400 and "is a whole number" in response.content.decode(), url
    response = admin_client.post("/hosts/test/", {"pk": "x", "name": "t", "url": "unix:///x.sock"})
    assert response.status_code == 400
    response = admin_client.post("/access/groups/add/", {"name": "g2", "members": ["9" * 40]})
    assert f"“{'9' * 40}” is not a valid value." in response.content.decode()  # the form says so
    for url in ("/hosts/unix-1/containers/./", "/hosts/unix-1/containers/./top/"):
        response = admin_client.get(url)
        assert response.status_code == 404 and "There is no container . on host unix-1." in response.content.decode()
    assert AuditEntry.objects.filter(target_id=".", outcome="failed").count() == 2
    response = admin_client.post("/containers/actions/", {"action": "start", "c": ["unix-1/.", "unix-1/.."]})
    assert response.status_code == 200 and response.content.decode().count('data-outcome="failed"') == 2
