"""A person logs in and sees the hosts: every test host up, a dead one unreachable."""

import asyncio
import os

import pytest
from playwright.sync_api import expect

from console.hosts.models import Host
from tests.conftest import login

pytestmark = pytest.mark.browser


def test_hosts_page_in_the_browser(page, hosts, admin_user, docker_env, settings):
    Host.objects.create(name="dead-host", url=docker_env.blackhole_url, description="never answers")
    login(page, "admin")
    page.goto("/hosts/")
    for name in hosts:
        row = page.locator(f'tr[data-host="{name}"]')
        assert row.locator(".status-up").inner_text() == "up"
        assert row.locator("td").nth(2).inner_text().startswith("20.10")
    dead = page.locator('tr[data-host="dead-host"]')
    assert "unreachable" in dead.inner_text()
    page.get_by_role("link", name="tls-1").click()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connected: Docker Engine")


def test_an_error_answer_to_an_htmx_request_is_shown(page, hosts, admin_user):
    """htmx 2 does not swap 4xx/5xx answers by default: the person would see nothing."""
    login(page, "admin")
    page.goto("/hosts/unix-1/")
    Host.objects.filter(name="unix-1").delete()  # removed meanwhile, in another tab
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result [role=alert]")).to_be_visible()


def test_the_browser_leaves_the_async_safety_check_on_for_other_tests(browser, db, make_user):
    """Chromium runs for the whole worker (tests/conftest.py), yet outside a test that uses
    a page no event loop is marked running, and a sync ORM call on a loop still fails."""
    from django.core.exceptions import SynchronousOnlyOperation

    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ

    async def query():
        make_user("on-a-loop")

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(query())
