"""The docker CLI as the oracle (issue 12): what the command says about a test daemon,
what a page shows a user about the same daemon, and a comparison that allows for the
daemon changing in between.

    cli = DockerCli(docker_env, "unix-2", tmp_path)
    cli.json_lines("ps", "-a", "--no-trunc")      # one dict per line of --format '{{json .}}'
    page = html_tree(admin_client.get(url))       # the page as parsed HTML
    agree(lambda: cli.json_lines("ps"), lambda: read_page(...), compare)
"""

import json
import os
import re
import subprocess
from html.parser import HTMLParser

from tests.harness import _which

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class DockerCli:
    """The docker CLI of the test daemons' own package (Debian's docker.io, the same
    version as dockerd), pointed at one test daemon, never at the default socket."""

    def __init__(self, env, daemon, config_dir):
        spec = env.daemon(daemon)
        binary = _which("docker", "/usr/bin/docker")
        self.prefix = [binary, "--config", str(config_dir), "-H", spec.url]
        if spec.tls_ca:
            ca, cert, key = env.tls_files(daemon)
            self.prefix += ["--tlsverify", "--tlscacert", ca, "--tlscert", cert, "--tlskey", key]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}

    def __call__(self, *args):
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, env=self.env, timeout=60
        )
        if done.returncode:
            raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def json(self, *args):
        return json.loads(self(*args, "--format", "{{json .}}"))

    def json_lines(self, *args):
        return [json.loads(line) for line in self(*args, "--format", "{{json .}}").splitlines() if line]


def agree(read_cli, read_page, differences):
    """Read the CLI, the page, the CLI again: the page must agree with one of the two
    CLI reads (`differences(page, cli)` lists what does not). Once more if neither
    agrees (the daemon changed between the reads), then fail with the differences."""
    for _ in range(2):
        before = read_cli()
        page = read_page()
        after = read_cli()
        found = differences(page, before)
        if not found or not differences(page, after):
            return page, before
    raise AssertionError("the page and the docker CLI disagree:\n" + "\n".join(map(str, found)))


# --- the page as a user reads it -------------------------------------------------


class Node:
    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.children = tag, dict(attrs), []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self):
        """The text with its white space collapsed, as a browser shows it."""
        return " ".join(self.text().split())

    def find_all(self, tag, **attrs):
        """Descendants with this tag and these attributes; `class_` matches one class."""
        wanted = attrs.pop("class_", None)
        out = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if child.tag == tag and all(child.attrs.get(k) == v for k, v in attrs.items()) and (
                wanted is None or wanted in (child.attrs.get("class") or "").split()
            ):
                out.append(child)
            out.extend(child.find_all(tag, class_=wanted, **attrs))
        return out

    def find(self, tag, **attrs):
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> on the page"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs)
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def html_tree(response):
    assert response.status_code == 200, (response.status_code, response.content[:500])
    builder = _TreeBuilder()
    builder.feed(response.content.decode())
    builder.close()
    return builder.root


def definitions(node):
    """{term: definition text} of the <dl> lists under `node`."""
    out = {}
    for dl in node.find_all("dl"):
        term = None
        for child in dl.children:
            if isinstance(child, Node) and child.tag == "dt":
                term = child.words()
            elif isinstance(child, Node) and child.tag == "dd" and term is not None:
                out[term] = child
    return out


def table_rows(table):
    """[{header: <td>}] of a table, the headers read from its <thead> (sort arrows dropped)."""
    headers = [re.sub(r"\s*[▲▼]$", "", th.words()) for th in table.find("thead").find_all("th")]
    rows = []
    for tr in table.find("tbody").find_all("tr"):
        cells = tr.find_all("td")
        if len(cells) == len(headers):
            rows.append((tr, dict(zip(headers, cells, strict=True))))
    return rows


def cli_time(text):
    """"2026-12-01 06:59:26 +0000 UTC" (the CLI's CreatedAt) as the pages write it."""
    return text.replace(" +0000 UTC", " UTC")
