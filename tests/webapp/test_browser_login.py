from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_reviewer_signs_in_and_sees_their_review_inbox(login, reviewer, password, page):
    login(reviewer, password)
    expect(page).to_have_title("What needs you · ModelGate")
    expect(page.get_by_role("heading", name="Versions awaiting your review")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Reviews")).to_be_visible()
    expect(nav.get_by_role("link", name="Register a model")).to_have_count(0)


def test_wrong_password_shows_a_sentence_and_keeps_the_username(page, owner, live_server):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Your username and password didn't")
    expect(page.get_by_label("Username")).to_have_value("dana")
