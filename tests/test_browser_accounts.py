"""In a browser, under the Content-Security-Policy (the `page` fixture fails on anything
it blocks): changing one's password, and the script behind the "Select all" box."""

import pytest
from playwright.sync_api import expect

from tests.conftest import login
from tests.harness import TEST_IMAGE

pytestmark = pytest.mark.browser
NEW = "a brand new passphrase 5521"


def test_change_password_in_the_browser(page, make_user):
    make_user("carol", role="Viewer")
    login(page, "carol")
    page.goto("/")
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Old password").fill("correct horse battery staple 42")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password confirmation").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    page.get_by_role("button", name="Log out carol").click()
    login(page, "carol", NEW)
    expect(page.get_by_role("button", name="Log out carol")).to_be_visible()


def test_select_all_checks_every_row(page, hosts, admin_user, docker_env):
    client = docker_env.client("unix-1")
    containers = [client.containers.create(TEST_IMAGE, "true", network_disabled=True) for _ in range(2)]
    try:
        login(page, "admin")
        page.goto("/hosts/unix-1/containers/?all=1")
        page.get_by_label("Select all").check()
        rows = page.locator("input[name=c]")
        expect(rows.first).to_be_checked()
        assert rows.count() >= 2 and all(rows.nth(i).is_checked() for i in range(rows.count()))
        page.get_by_label("Select all").uncheck()
        expect(rows.first).not_to_be_checked()
    finally:
        for container in containers:
            container.remove(force=True)
