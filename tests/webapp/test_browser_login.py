from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_reviewer_signs_in_and_sees_their_review_inbox(login, reviewer, password, page):
    login(reviewer, password)
    assert page.title() == "What needs you · ModelGate"
    assert page.get_by_role("heading", name="Versions awaiting your review").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Reviews").is_visible()
    assert nav.get_by_role("link", name="Register a model").count() == 0


def test_wrong_password_shows_a_sentence_and_keeps_the_username(page, owner, live_server):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Your username and password didn't")
    assert page.get_by_label("Username").input_value() == "dana"
