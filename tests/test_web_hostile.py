"""`briefing serve` against hostile input: traversal, huge tokens, markup, floods."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from briefing.store import Store
from briefing.store.editions import get_edition
from briefing.web.app import create_app
from briefing.web.limits import RateLimit
from tests.web_fixtures import csrf_of, site, web_settings

__all__ = ["site"]  # a fixture

TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/briefing.toml",
    "....//....//etc/passwd",
    "/etc/passwd",
    "..\\..\\briefing.toml",
    "%00",
]


def _no_file_leaked(answer) -> None:
    assert answer.status_code in (400, 404), answer.status_code
    assert "root:" not in answer.text and "secret" not in answer.text.lower()
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("evil", TRAVERSALS)
def test_path_traversal_in_every_parameter_finds_nothing(site, evil):
    client, *_ = site
    for path in (
        f"/briefs/{evil}",
        f"/briefs/{evil}/feed.atom",
        f"/editions/{evil}",
        f"/editions/{evil}/pdf",
        f"/editions/{evil}/events.json",
        f"/editions/1/{evil}",
        f"/static/{evil}",
        f"/briefs/daily?page={evil}",
        f"/unsubscribe?token={evil}",
        f"/confirm?token={evil}",
    ):
        _no_file_leaked(client.get(path))
    for query in (f"/search?q={evil}", f"/subscribe?brief={evil}"):
        answer = client.get(query)
        assert answer.status_code == 200 and "root:" not in answer.text
    csrf = csrf_of(client.get("/subscribe").text)
    for path, data in (
        ("/subscribe", {"email": "ann@example.org", "brief": evil, "csrf_token": csrf}),
        ("/subscribe", {"email": evil, "brief": "daily", "csrf_token": csrf}),
        ("/confirm", {"token": evil, "csrf_token": csrf}),
        (f"/unsubscribe?token={evil}", {"List-Unsubscribe": "One-Click"}),
    ):
        _no_file_leaked(client.post(path, data=data))


def test_edition_ids_beyond_the_database_s_integers_find_nothing(site):
    client, *_ = site
    for number in ("9" * 30, str(2**31), str(2**63), "0"):
        for tail in ("", "/pdf", "/events.json"):
            _no_file_leaked(client.get(f"/editions/{number}{tail}"))


def test_an_edition_record_pointing_outside_the_archive_serves_nothing(site, tmp_path):
    client, _, store, editions = site
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    with store.session() as session:
        get_edition(session, editions["daily"].id).path = "../secret.txt"
    _no_file_leaked(client.get(f"/editions/{editions['daily'].id}/pdf"))


def test_a_token_of_ten_kilobytes_gets_a_plain_answer(site, mailbox):
    client, *_ = site
    token = "A" * 10_240
    for answer in (
        client.get(f"/unsubscribe?token={token}"),
        client.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"}),
        client.get(f"/confirm?token={token}"),
    ):
        _no_file_leaked(answer)
        assert token not in answer.text
    form = client.get("/subscribe")
    answer = client.post("/confirm", data={"token": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 400 and "not valid or has expired" in answer.text


def test_markup_in_a_search_is_shown_as_text(site):
    client, *_ = site
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    page = client.get("/search", params={"q": evil})

    assert page.status_code == 200
    assert "<script>" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    syntax = client.get("/search", params={"q": 'drones")^ * -(:'})
    assert syntax.status_code == 200 and "<mark>drones</mark>" in syntax.text


def test_a_subscribe_flood_is_cut_off_and_mails_no_more_than_the_limit(site, mailbox):
    client, settings, *_ = site
    form = client.get("/subscribe")
    answers = [
        client.post(
            "/subscribe",
            data={
                "email": f"victim{n}@example.org",
                "brief": "daily",
                "csrf_token": csrf_of(form.text),
            },
        )
        for n in range(20)
    ]
    limit = settings.web.subscribe_per_client
    assert [a.status_code for a in answers] == [200] * limit + [429] * (20 - limit)
    assert len(mailbox.received) == limit


def test_one_address_gets_few_mails_however_many_clients_ask(tmp_path, server, mailbox):
    settings = web_settings(tmp_path, smtp_port=server.port, subscribe_per_client=1000)
    store = Store(settings.db_url)
    client = TestClient(create_app(settings, store))
    form = client.get("/subscribe")
    data = {"email": "victim@example.org", "brief": "daily", "csrf_token": csrf_of(form.text)}
    answers = [client.post("/subscribe", data=data) for _ in range(10)]
    store.dispose()

    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1  # held back or not, the same answer
    assert len(mailbox.received) == settings.web.subscribe_per_address


def test_a_rate_limit_window_slides():
    now = [1000.0]
    limit = RateLimit(2, 60, clock=lambda: now[0])
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a"), limit.allow("b")] == [
        True,
        True,
        False,
        True,
    ]
    now[0] += 61
    assert limit.allow("a")


def test_a_slow_body_without_length_is_cut_off_at_the_limit(site):
    client = site[0]

    def chunks():
        for _ in range(40):
            yield b"x" * 1024

    started = time.monotonic()
    answer = client.post(
        "/subscribe",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert time.monotonic() - started < 10


def test_fonts_are_served_by_plain_name_from_the_template_folders_only(site):
    client = site[0]
    font = client.get("/editions/fonts/Inter-Regular.otf")
    assert font.status_code == 200 and font.content[:4] == b"OTTO"
    assert "font-src 'self'" in client.get("/").headers["content-security-policy"]
    for hostile in ("..%2Fbrief.css", "OFL.txt", "..%2F..%2Fpyproject.toml", "x.otf"):
        assert client.get(f"/editions/fonts/{hostile}").status_code == 404
