"""In a browser: a container started with the docker CLI on a test daemon appears in an
open container list without a reload, and in the events page."""

import pytest
from playwright.sync_api import expect

from tests.conftest import login
from tests.harness import TEST_IMAGE
from tests.test_logs import cli

pytestmark = pytest.mark.browser


def test_a_container_started_with_the_cli_appears_in_the_open_list(page, hosts, admin_user, docker_env):
    login(page, "admin")
    page.goto("/hosts/unix-1/containers/")
    table = page.locator("#container-table")
    expect(table).to_have_attribute("data-live-events", "/ws/hosts/unix-1/events/?type=container")
    expect(table).to_have_attribute("data-connected", "1")  # subscribed
    page.evaluate("window.notReloaded = true")
    name = "cli-started"
    (ref,), _ = cli(docker_env, "unix-1", "run", "-d", "--name", name, "--network", "none", TEST_IMAGE, "sleep", "300")
    try:
        expect(table.get_by_role("link", name=name)).to_be_visible(timeout=30000)
        assert page.evaluate("window.notReloaded") is True  # swapped in, not reloaded
    finally:
        cli(docker_env, "unix-1", "rm", "-f", ref)
    expect(table.get_by_role("link", name=name)).to_have_count(0, timeout=30000)
    assert page.evaluate("window.notReloaded") is True


def test_the_events_page_shows_live_events(page, hosts, admin_user, docker_env):
    login(page, "admin")
    page.goto("/hosts/unix-1/events/")
    expect(page.locator("#event-status")).to_have_text("Live.")
    (ref,), _ = cli(docker_env, "unix-1", "create", "--name", "evented", "--network", "none", TEST_IMAGE, "true")
    cli(docker_env, "unix-1", "rm", ref)
    rows = page.locator("#event-rows tr", has_text="evented")
    expect(rows.filter(has_text="destroy")).to_have_count(1, timeout=30000)
    expect(rows.filter(has_text="create")).to_have_count(1)


def test_the_container_page_follows_a_cli_stop(page, hosts, admin_user, docker_env, containers):
    container = containers("unix-1")
    login(page, "admin")
    page.goto(f"/hosts/unix-1/containers/{container.id}/")
    expect(page.locator("#container-head")).to_have_attribute("data-connected", "1")
    expect(page.locator(".state")).to_have_text("running")
    page.evaluate("window.notReloaded = true")
    cli(docker_env, "unix-1", "stop", "-t", "0", container.id)
    expect(page.locator(".state")).to_have_text("exited", timeout=30000)
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible()
    assert page.evaluate("window.notReloaded") is True


def test_the_container_page_says_when_the_container_is_removed(page, hosts, admin_user, docker_env, containers):
    container = containers("unix-1")
    login(page, "admin")
    page.goto(f"/hosts/unix-1/containers/{container.id}/")
    expect(page.locator("#container-head")).to_have_attribute("data-connected", "1")
    cli(docker_env, "unix-1", "stop", "-t", "0", container.id)
    expect(page.locator(".state")).to_have_text("exited", timeout=30000)  # the head was re-fetched once
    cli(docker_env, "unix-1", "rm", container.id)
    expect(page.locator("#live-status")).to_contain_text("This container was removed from unix-1", timeout=30000)
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_disabled()
