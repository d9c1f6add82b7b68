"""In a browser: a shell in a container through the Terminal tab (xterm.js): type and
see the answer, a page frozen in the background goes on, paste 100 KB intact, a container
stopped from another tab ends the terminal with a notice; `run -i -t` from its first byte."""

import hashlib
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import login
from tests.harness import TEST_IMAGE

pytestmark = pytest.mark.browser


def screen_text(page):
    return page.locator("#terminal-screen .xterm-rows").inner_text()


def type_line(page, text):
    page.locator("#terminal-screen .xterm-helper-textarea").focus()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_a_shell_in_the_browser(page, hosts, admin_user, docker_env):
    client = docker_env.client("unix-1")
    container = client.containers.run(TEST_IMAGE, ["sleep", "300"], detach=True, network_disabled=True,
                                      name=f"shell-{uuid.uuid4().hex[:8]}")  # fmt: skip
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        login(page, "admin")
        page.goto(f"/hosts/unix-1/containers/{container.id[:12]}/")
        page.get_by_role("link", name="Terminal").click()
        expect(page.get_by_label("Command")).to_be_visible()
        expect(page.get_by_label("Working folder (-w)")).to_be_visible()
        page.get_by_role("button", name="Open").click()
        expect(page.locator("#terminal-status")).to_have_text("Connected: exec.")

        type_line(page, "echo hello")
        rows = page.locator("#terminal-screen .xterm-rows > div")
        expect(rows.filter(has_text=re.compile(r"^hello\s*$"))).to_have_count(1)  # the answer, on a row of its own

        # a page frozen in the background (as Chrome does with hidden tabs) takes up where it was
        type_line(page, "sleep 1; echo back-again; touch /tmp/answered")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        while container.exec_run(["test", "-f", "/tmp/answered"]).exit_code:
            pass
        cdp.send("Page.setWebLifecycleState", {"state": "active"})
        expect(rows.filter(has_text=re.compile(r"^back-again\s*$"))).to_have_count(1)
        type_line(page, "echo still-typing")
        expect(rows.filter(has_text=re.compile(r"^still-typing\s*$"))).to_have_count(1)

        # 100 KB through the clipboard and the Paste button, read by the shell into a file
        text = "".join(f"{i:06d} {'abcdefghijklmnopqrstuvwxyz' * 3}\n" for i in range(1200))[: 100 * 1024]
        text = text[: text.rindex("\n") + 1]
        type_line(page, f"stty -echo; head -c {len(text)} > /tmp/paste; stty echo; sha256sum /tmp/paste")
        page.evaluate("text => navigator.clipboard.writeText(text)", text)
        page.get_by_role("button", name="Paste").click()
        digest = hashlib.sha256(text.encode()).hexdigest()
        expect(page.locator("#terminal-screen .xterm-rows")).to_contain_text(digest[:40], timeout=60000)

        # the font and full-window controls
        page.get_by_role("button", name="Full window").click()
        expect(page.locator("#terminal")).to_have_class(re.compile("full"))
        page.get_by_role("button", name="Full window").click()
        page.get_by_role("button", name="Larger font").click()

        # the main process, attached; stopped from another tab
        page.get_by_role("button", name="Attach").click()
        expect(page.locator("#terminal-status")).to_contain_text("Detach keys: ctrl-p,ctrl-q")
        expect(page.locator("#terminal-viewers")).to_have_text("Attached: admin")
        other = page.context.new_page()
        other.goto(f"/hosts/unix-1/containers/{container.id[:12]}/")
        other.get_by_label("Stop timeout in seconds").fill("0")
        other.get_by_role("button", name="Stop").click()
        expect(other.get_by_text("stopped.")).to_be_visible(timeout=30000)
        expect(page.locator("#terminal-status")).to_have_text(re.compile(r"Ended: Container .* stopped \(exit code 137\)\."))
        expect(page.locator("#terminal-screen .xterm-rows")).to_contain_text("stopped (exit code 137)")
        other.close()
    finally:
        container.remove(force=True)


def test_run_interactive_opens_a_terminal_from_the_first_byte(page, hosts, admin_user, docker_env):
    name = f"it-{uuid.uuid4().hex[:8]}"
    client = docker_env.client("unix-1")
    try:
        login(page, "admin")
        page.goto("/hosts/unix-1/run/")
        page.get_by_label("Image", exact=True).fill(TEST_IMAGE)
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Command", exact=True).fill("sh -c 'echo first-line; exec sh'")
        page.get_by_label("Network", exact=True).select_option("none")
        page.get_by_label("Interactive (-i -t): open it in a terminal, from its first byte").check()
        page.get_by_label("Remove it when it exits (--rm)").check()
        page.get_by_role("button", name="Run", exact=True).click()

        page.wait_for_url(re.compile(r"/terminal/\?mode=attach&start=1$"))
        expect(page.locator("#terminal-status")).to_contain_text("Attached.")
        rows = page.locator("#terminal-screen .xterm-rows > div")
        expect(rows.first).to_have_text(re.compile(r"^first-line\s*$"))  # nothing before it was lost
        expect(rows.filter(has_text=re.compile(r"^/ # "))).to_have_count(1)
        type_line(page, "exit 3")
        expect(page.locator("#terminal-status")).to_have_text(
            f"Ended: Container {name} stopped (exit code 3) and was removed (--rm).", timeout=30000
        )
        assert not client.containers.list(all=True, filters={"name": name})
    finally:
        for container in client.containers.list(all=True, filters={"name": name}):
            container.remove(force=True)
