"""In a browser: the Logs tab of a busy container: lines arrive live, log text is text
(never markup) with ANSI colours, search highlights and filters, scrolling up is not
yanked back, and the jump button brings the new lines."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import login
from tests.harness import TEST_IMAGE

pytestmark = pytest.mark.browser

BUSY = (
    "i=0; while true; do i=$((i+1)); printf 'tick %d <b>not bold</b> \\033[31mred\\033[0m\\n' $i; "
    "echo \"warn $i\" >&2; usleep 20000; done"
)


def at_bottom(page):
    return page.locator("#log-view").evaluate("v => v.scrollTop + v.clientHeight >= v.scrollHeight - 4")


def test_the_log_tab_of_a_busy_container(page, hosts, admin_user, docker_env):
    client = docker_env.client("unix-1")
    container = client.containers.run(
        TEST_IMAGE, ["sh", "-c", BUSY], detach=True, network_disabled=True, name=f"busy-{uuid.uuid4().hex[:8]}"
    )
    try:
        login(page, "admin")
        page.goto(f"/hosts/unix-1/containers/{container.id[:12]}/")
        page.get_by_role("link", name="Logs").click()
        log = page.get_by_role("log", name="Log lines")
        expect(page.locator("#log-status")).to_have_text("Following the log.")
        expect(log.locator(".line").nth(60)).to_be_attached()
        # text, never markup; colours from ANSI; stderr marked
        expect(log.locator(".line", has_text="tick 3 ").first).to_contain_text("<b>not bold</b>")
        assert log.locator("b").count() == 0
        expect(log.locator(".line", has_text="tick 3 ").first.locator(".ansi-1")).to_have_text("red")
        expect(log.locator(".line.stderr", has_text="warn 3").first.locator(".err")).to_have_text("stderr")

        page.get_by_label("Search the log").fill("tick 4")
        expect(log.locator("mark").first).to_have_text("tick 4")
        page.get_by_label("Only matching lines").check()
        visible = log.locator(".line:not(.hidden)")
        expect(visible.first).to_contain_text("tick 4")
        assert all("tick 4" in text for text in visible.all_inner_texts())
        page.get_by_label("Only matching lines").uncheck()
        page.get_by_label("Search the log").fill("")

        # reading back: new lines keep coming, the view stays where it is
        page.locator("#log-view").evaluate("v => { v.scrollTop = 0; v.dispatchEvent(new Event('scroll')); }")
        jump = page.get_by_role("button", name="new lines")
        expect(jump).to_be_visible()
        expect(jump).to_have_text(re.compile(r"↓ \d+\+? new lines"))
        first_count = int(jump.inner_text().split()[1].rstrip("+"))
        expect(jump).not_to_have_text(f"↓ {first_count} new lines")  # more arrived meanwhile
        assert page.locator("#log-view").evaluate("v => v.scrollTop") == 0, "yanked back to the bottom"
        jump.click()
        expect(jump).to_be_hidden()
        assert at_bottom(page)
    finally:
        container.remove(force=True)
