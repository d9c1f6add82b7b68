"""In a browser: a developer sees only their host, is told plainly what they may not
do, and an admin then finds every one of those actions in the audit trail."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import login
from tests.harness import TEST_IMAGE

pytestmark = pytest.mark.browser


def test_developer_scope_and_the_audit_trail(page, hosts, admin_user, make_user, docker_env):
    make_user("dev", role="Developer", host=hosts["unix-2"])
    name = f"dev-{uuid.uuid4().hex[:8]}"
    client = docker_env.client("unix-2")
    # --init: the sleep gets the stop's SIGTERM (as PID 1 it would ignore it for 10 s)
    container = client.containers.run(
        TEST_IMAGE, ["sleep", "300"], name=name, detach=True, network_disabled=True, init=True
    )
    try:
        login(page, "dev")
        page.goto("/hosts/")
        expect(page.locator("tr[data-host]")).to_have_count(1)
        expect(page.locator('tr[data-host="unix-2"]')).to_be_visible()
        expect(page.get_by_role("link", name="Audit")).to_have_count(0)

        page.goto(f"/hosts/unix-2/containers/{name}/")
        expect(page.get_by_role("button", name="Remove", exact=True)).to_have_count(0)
        page.get_by_role("button", name="Stop", exact=True).click()
        expect(page.locator(".flash")).to_contain_text(f"Container {name} stopped.")

        page.goto("/hosts/add/")
        expect(page.get_by_role("alert")).to_have_text("You are not allowed to add hosts.")
        page.goto("/run/")
        expect(page.get_by_role("alert")).to_contain_text("You are not allowed to run containers")
        assert page.goto("/hosts/unix-1/").status == 404
        page.get_by_role("button", name="Log out dev").click()

        login(page, "admin")
        page.goto("/audit/?user=dev")
        table = page.locator("table")
        for action, outcome in [
            ("auth.login", "succeeded"), ("container.stop", "succeeded"), ("host.create", "denied"),
            ("container.run", "denied"), ("host.view", "denied"), ("auth.logout", "succeeded"),
        ]:  # fmt: skip
            expect(table.locator("tr", has_text=action).filter(has_text=outcome).first).to_be_visible()
    finally:
        container.remove(force=True)
