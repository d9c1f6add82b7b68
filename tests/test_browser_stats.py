"""The Stats tab and a host's stats table in a real browser (Chromium), against the
test daemons: the CPU chart moves, the table gains a container started with the CLI."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import login
from tests.harness import TEST_IMAGE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.heavy(8)
def test_the_cpu_chart_moves_and_the_host_table_updates(page, hosts, make_user, containers, docker_of):
    busy = containers("unix-1", cmd="sh -c 'while :; do :; done'", labels={"team": "a"})
    make_user("viewer", role="Viewer", host=hosts["unix-1"], label="team=a")
    other = containers("unix-1", labels={"team": "b"})
    login(page, "viewer")

    page.goto(f"/hosts/unix-1/containers/{busy.id[:12]}/")
    page.get_by_role("link", name="Stats").click()
    charts = page.locator("#stats-charts")
    expect(charts).to_have_attribute("data-samples", re.compile(r"^([3-9]|[0-9]{2,})$"))  # three samples charted
    assert page.locator("#stats-status").inner_text() == "Live."
    assert page.locator("#chart-cpu canvas").count() == 1 and page.locator("#chart-mem .u-legend").count() == 1
    cpu = float(page.locator("#stats-cpu-text").inner_text().rstrip("%"))
    assert cpu > 10, cpu  # a busy loop: the chart's last point is far from zero
    assert charts.get_attribute("data-state") == "live"

    page.goto("/hosts/unix-1/")
    page.get_by_role("button", name="Stats").click()
    row = page.locator(f"#stats-{busy.id}")
    row.wait_for()
    assert row.locator("td").nth(1).inner_text() == busy.name
    # started later, on the daemon directly: it appears; another team's never does
    docker = docker_of("unix-1")
    late = docker.containers.run(TEST_IMAGE, ["sleep", "300"], detach=True, network_disabled=True, labels={"team": "a"})
    docker_of.made.append(("unix-1", late.id))
    page.locator(f"#stats-{late.id}").wait_for()
    late.stop(timeout=0)  # a container that stops leaves the table
    page.locator(f"#stats-{late.id}").wait_for(state="detached")
    assert page.locator("#stats-rows tr[id]").count() == 1 and page.locator(f"#stats-{other.id}").count() == 0
