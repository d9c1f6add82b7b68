"""In a browser: run a container from the form, find it across hosts, stop and remove
it, and read the three actions back from the audit trail."""

import re
import uuid

import docker.errors
import pytest
from playwright.sync_api import expect

from console.audit.models import AuditEntry
from tests.conftest import login
from tests.harness import TEST_IMAGE

pytestmark = pytest.mark.browser


def test_run_stop_remove_in_the_browser(page, hosts, admin_user, docker_env):
    name = f"browser-{uuid.uuid4().hex[:8]}"
    client = docker_env.client("unix-2")
    try:
        login(page, "admin")
        page.goto("/run/")
        page.get_by_label("Host", exact=True).select_option(label="unix-2")
        page.get_by_label("Image", exact=True).fill(TEST_IMAGE)
        page.get_by_label("Name", exact=True).fill(name)
        # exits on the stop's SIGTERM (a bare sleep, PID 1, would ignore it for 10 s)
        page.get_by_label("Command", exact=True).fill("sh -c 'trap exit TERM; sleep 300 & wait'")
        page.get_by_label("Network", exact=True).select_option("none")
        expect(page.get_by_label("Detached: start it and open its page")).to_be_checked()
        page.get_by_role("button", name="Run", exact=True).click()

        page.wait_for_url(re.compile(r"/hosts/unix-2/containers/[0-9a-f]{64}/$"))
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        expect(page.get_by_text(f"Container {name} started.")).to_be_visible()
        assert client.containers.get(name).status == "running"

        page.goto("/containers/")
        page.get_by_role("link", name=name).click()
        page.get_by_role("button", name="Stop").click()
        expect(page.locator(".state")).to_have_text("exited", timeout=30000)
        page.get_by_text("Remove…").click()
        page.get_by_role("button", name="Remove", exact=True).click()
        page.wait_for_url(lambda url: "/containers/" in url and name not in url)
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(name)

        page.goto("/audit/")
        rows = page.locator("tbody tr", has_text=name)
        expect(rows).to_have_count(3)
        for action in ("container.run", "container.stop", "container.remove"):
            expect(rows.filter(has_text=action)).to_contain_text("succeeded")
        entries = AuditEntry.objects.filter(target_name=name).order_by("id")
        assert [(e.action, e.outcome) for e in entries] == [
            ("container.run", "succeeded"), ("container.stop", "succeeded"), ("container.remove", "succeeded")
        ]  # fmt: skip
    finally:
        try:
            client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass


def test_one_shot_output_and_the_file_browser(page, hosts, admin_user, docker_env):
    client = docker_env.client("unix-1")
    container = client.containers.create(TEST_IMAGE, "sleep 300", network_disabled=True)
    try:
        login(page, "admin")
        page.goto("/hosts/unix-1/run/")
        page.get_by_label("Image", exact=True).fill(TEST_IMAGE)
        page.get_by_label("Command", exact=True).fill('echo "hello <b>world</b>"')
        page.get_by_label("Network", exact=True).select_option("none")
        page.get_by_label("One-shot: wait for it and show its output").check()
        page.get_by_label("Remove it when it exits (--rm)").check()
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.locator("pre.run-output")).to_have_text("hello <b>world</b>\n")
        expect(page.locator("#run-result")).to_contain_text("exit code 0")

        page.goto(f"/hosts/unix-1/containers/{container.id[:12]}/files/?path=/tmp")
        page.get_by_label("Files").set_input_files(
            files=[{"name": 'we ird "name" <b>ü.txt', "mimeType": "text/plain", "buffer": b"odd\n"}]
        )
        page.get_by_role("button", name="Upload").click()
        expect(page.locator("table.files")).to_contain_text('we ird "name" <b>ü.txt')
        with page.expect_download() as download:
            page.get_by_role("link", name='Download we ird "name" <b>ü.txt').click()
        # Chromium turns characters some file systems refuse (" < >) into _
        assert download.value.suggested_filename == "we ird _name_ _b_ü.txt"
        assert open(download.value.path(), "rb").read() == b"odd\n"
    finally:
        container.remove(force=True)


def test_the_toolbar_labels_its_fields_and_shows_a_stop_in_progress(page, hosts, admin_user, docker_env):
    client = docker_env.client("unix-1")
    # PID 1 of a container ignores SIGTERM unless it handles it: Stop waits its whole timeout.
    container = client.containers.run(TEST_IMAGE, "sleep 300", detach=True, network_disabled=True)
    # What the page shows once Stop is clicked, reported by the page itself: Playwright's
    # own queries wait for the navigation the click starts, i.e. for the result.
    seen = []
    page.expose_function("wharfSawBusy", lambda state: seen.append(state))
    try:
        login(page, "admin")
        page.goto(f"/hosts/unix-1/containers/{container.id[:12]}/")
        toolbar = page.get_by_role("toolbar", name="Container actions")
        expect(toolbar.get_by_text("Timeout (s)")).to_have_count(2)  # stop, restart
        expect(toolbar.get_by_text("Signal", exact=True)).to_be_visible()
        page.get_by_label("Stop timeout in seconds").fill("3")
        page.evaluate("""() => new MutationObserver(() => {
            const b = document.querySelector("[role=toolbar] button[aria-busy=true]");
            if (b) window.wharfSawBusy([b.textContent, b.disabled, document.querySelector(".state").textContent]);
        }).observe(document.querySelector("[role=toolbar]"), {subtree: true, attributes: true, characterData: true})""")
        page.get_by_role("button", name="Stop", exact=True).click()
        expect(page.get_by_text(f"Container {container.name} stopped.")).to_be_visible(timeout=30000)
        assert seen and seen[0] == ["Stopping…", True, "running"]
        expect(page.locator(".state")).to_have_text("exited")
        expect(toolbar.get_by_role("button", name="Stopping…")).to_have_count(0)
    finally:
        container.remove(force=True)
