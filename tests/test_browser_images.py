"""In a browser: tag an image from its page, remove the tag again, and read both actions
back from the audit trail."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import login
from tests.harness import TEST_IMAGE

pytestmark = pytest.mark.browser


def test_tag_and_untag_in_the_browser(page, hosts, admin_user, docker_env):
    client = docker_env.client("unix-2")
    image = client.images.get(TEST_IMAGE)
    new_tag = f"browser-{uuid.uuid4().hex[:8]}:1"
    try:
        login(page, "admin")
        page.goto("/hosts/unix-2/images/")
        page.get_by_role("link", name=image.id[7:19]).first.click()
        expect(page.get_by_role("heading", name=TEST_IMAGE)).to_be_visible()
        page.get_by_label("New tag").fill(new_tag)
        page.get_by_role("button", name="Add tag").click()
        expect(page.get_by_text(f"Tagged {new_tag}.")).to_be_visible()
        assert new_tag in client.images.get(image.id).tags

        page.get_by_role("button", name=f"Remove tag {new_tag}").click()
        expect(page.get_by_text(f"Tag {new_tag} removed.")).to_be_visible()
        assert new_tag not in client.images.get(image.id).tags

        page.goto("/audit/?action=image.tag")
        expect(page.locator("tbody tr").filter(has_text="image.tag").first).to_contain_text("succeeded")
        page.goto("/audit/?action=image.untag")
        expect(page.locator("tbody tr").filter(has_text="image.untag").first).to_contain_text(new_tag)
    finally:
        if new_tag in client.images.get(image.id).tags:
            client.api.remove_image(new_tag)


def test_load_sends_the_tar_as_the_body(page, hosts, admin_user, docker_env, tmp_path):
    """The load page's script sends the file itself as the request body (no form)."""
    saved = tmp_path / "busybox.tar"
    saved.write_bytes(b"".join(docker_env.client("unix-2").api.get_image(TEST_IMAGE)))
    login(page, "admin")
    page.goto("/hosts/unix-1/images/load/")
    with page.expect_request(lambda r: r.method == "POST") as sent:
        page.get_by_label("Image tar").set_input_files(str(saved))
        page.get_by_role("button", name="Load").click()
    assert sent.value.headers["content-type"] == "application/x-tar"
    expect(page.locator("code.loaded")).to_have_text(TEST_IMAGE)
