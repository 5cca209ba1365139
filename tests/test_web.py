"""Every route of `briefing serve`, in-process (Starlette's TestClient) on a real SQLite store.

Mail goes to a real SMTP server on loopback; PDFs are the archived files rendered by WeasyPrint.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import unquote

import feedparser
from starlette.testclient import TestClient

from briefing.deliver import send_edition
from briefing.store import Store
from briefing.store.subscribers import find_subscriber, save_subscriber
from briefing.web.app import create_app
from tests.deliver_fixtures import token_of
from tests.web_fixtures import PUBLIC_URL, csrf_of, link_in, site, web_settings

__all__ = ["site"]  # a fixture


def status_of(store: Store, address: str) -> tuple[str, list[str]] | None:
    with store.session() as session:
        found = find_subscriber(session, email=address)
        return (found.status, found.briefs) if found else None


def test_the_index_lists_public_briefs_only(site):
    client, *_ = site
    page = client.get("/")
    assert page.status_code == 200
    assert "Situation Brief" in page.text and 'href="/briefs/daily"' in page.text
    assert "Desk Notes" not in page.text and "/briefs/desk" not in page.text
    assert "set-cookie" not in page.headers  # only pages with a form set the CSRF cookie


def test_a_brief_lists_its_editions_by_date_a_page_at_a_time(site):
    _, settings, store, editions = site
    from briefing.pipeline import generate_edition

    generate_edition(settings, store, "daily", since="2024-10-24", until="2024-10-24")
    paged = TestClient(
        create_app(
            settings.model_copy(update={"web": settings.web.model_copy(update={"page_size": 1})}),
            store,
        )
    )

    first, second = paged.get("/briefs/daily"), paged.get("/briefs/daily?page=2")
    assert "Saturday, 26 October 2024" in first.text and "Page 1 of 2" in first.text
    assert "Thursday, 24 October 2024" in second.text and "Page 2 of 2" in second.text
    assert f'href="/editions/{editions["daily"].id}/pdf"' in first.text
    for missing in ("/briefs/daily?page=3", "/briefs/daily?page=0", "/briefs/daily?page=x"):
        assert paged.get(missing).status_code == 404


def test_a_private_or_unknown_brief_has_no_pages(site):
    client, _, _, editions = site
    desk = editions["desk"].id
    for path in (
        "/briefs/desk",
        "/briefs/desk/feed.atom",
        f"/editions/{desk}",
        f"/editions/{desk}/pdf",
        f"/editions/{desk}/events.json",
        "/briefs/weekly",
        "/editions/999",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "There is no such page here." in answer.text


def test_an_edition_page_shows_the_brief_with_its_files_and_a_strict_policy(site):
    client, _, _, editions = site
    page = client.get(f"/editions/{editions['daily'].id}")

    assert page.status_code == 200
    assert "Russia launches 116 drones" in page.text
    assert "South Korea summons the Russian ambassador" in page.text
    assert "arms package" not in page.text  # an aid event: the private desk brief's
    assert f'href="/editions/{editions["daily"].id}/pdf"' in page.text
    assert 'href="/static/web.css"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src" not in policy and "'unsafe-inline'" not in policy
    assert "default-src 'none'" in policy and "'sha256-" in policy
    assert client.get(f"/editions/{editions['daily'].id}").text == page.text  # cached, same
    head = client.head(f"/editions/{editions['daily'].id}")
    assert head.status_code == 200 and head.headers["content-security-policy"] == policy
    assert client.get("/static/web.css").headers["content-type"].startswith("text/css")


def test_the_pdf_is_the_archived_file(site):
    client, settings, _, editions = site
    edition = editions["daily"]
    answer = client.get(f"/editions/{edition.id}/pdf")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert 'filename="daily-2024-10-26.pdf"' in answer.headers["content-disposition"]
    archived = (settings.output_dir / edition.path).read_bytes()
    assert hashlib.sha256(answer.content).hexdigest() == edition.sha256
    assert answer.content == archived


def test_the_events_of_an_edition_as_json(site):
    client, _, _, editions = site
    edition = editions["daily"]
    data = client.get(f"/editions/{edition.id}/events.json").json()

    assert data["edition_id"] == edition.id and data["date"] == "2024-10-26"
    assert sorted(event["id"] for event in data["events"]) == sorted(edition.event_ids)
    assert {event["category"] for event in data["events"]} <= {"military", "diplomatic"}


def test_an_atom_feed_of_a_brief_s_editions(site):
    client, _, _, editions = site
    answer = client.get("/briefs/daily/feed.atom")
    feed = feedparser.parse(answer.content)

    assert answer.headers["content-type"].startswith("application/atom+xml")
    assert feed.feed.title == "Situation Brief"
    (entry,) = feed.entries
    assert entry.link == f"{PUBLIC_URL}/editions/{editions['daily'].id}"
    assert "26 October 2024" in entry.title
    assert f'href="{entry.link}/pdf"' in entry.content[0].value


def test_search_marks_the_words_found_and_shows_only_public_briefs(site, cli):
    client, *_ = site
    page = client.get("/search", params={"q": "drones factory"})

    assert "<mark>drones</mark>" in page.text and "<mark>factory</mark>" in page.text
    assert "1 result for" in page.text
    assert "Situation Brief, 26 Oct 2024</a>" in page.text
    # The arms package is an aid event, which only the private desk brief shows.
    assert "0 results" in client.get("/search", params={"q": "arms package"}).text


def test_archive_search_on_the_command_line(site, cli, tmp_path):
    editions = site[3]
    config = ("--config", str(tmp_path / "briefing.toml"))
    found = cli(*config, "archive", "search", "drones factory", "--json")

    assert found.code == 0, found.err
    (hit,) = json.loads(found.out)
    assert "factory" in hit["highlights"] and hit["title"].startswith("Ukrainian drones strike")
    assert [e["edition_id"] for e in hit["editions"]] == [editions["daily"].id]
    desk = json.loads(cli(*config, "archive", "search", "arms package", "--json").out)
    assert desk and all(e["brief"] == "desk" for hit in desk for e in hit["editions"])
    assert json.loads(cli(*config, "archive", "search", '"*) OR (', "--json").out) == []
    plain = cli(*config, "archive", "search", "drones")
    assert "[drones]" in plain.out and plain.code == 0


def test_subscribing_takes_a_confirmed_link(site, mailbox):
    client, _, store, _ = site
    form = client.get("/subscribe?brief=daily")
    assert 'option value="daily" selected' in form.text and "desk" not in form.text

    answer = client.post(
        "/subscribe",
        data={
            "email": "Ann@Example.org",
            "name": "Ann",
            "brief": "daily",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert status_of(store, "Ann@example.org") is None  # nothing until confirmed
    (mail,) = mailbox.received
    assert mail.recipients == ["Ann@example.org"]
    link = link_in(mail.message.get_content(), "/confirm?token=")

    page = client.get(link.removeprefix(PUBLIC_URL))
    assert "Confirm your subscription" in page.text
    assert status_of(store, "Ann@example.org") is None  # opening the link changes nothing
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    done = client.post("/confirm", data={"token": token, "csrf_token": csrf_of(page.text)})

    assert done.status_code == 200 and 'data-status="active"' in done.text
    assert status_of(store, "Ann@example.org") == ("active", ["daily"])


def test_a_known_address_gets_the_same_answer_as_a_new_one(site, mailbox):
    client, _, store, _ = site
    with store.session() as session:
        save_subscriber(session, "known@example.org", name=None, briefs=["daily"], reactivate=True)
    form = client.get("/subscribe")
    answers = [
        client.post(
            "/subscribe",
            data={"email": address, "name": "", "brief": "daily", "csrf_token": csrf_of(form.text)},
        )
        for address in ("known@example.org", "new@example.org")
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].text == answers[1].text
    assert sorted(mailbox.addresses()) == ["known@example.org", "new@example.org"]


def test_every_form_needs_its_csrf_field(site, mailbox):
    client, *_ = site
    client.get("/subscribe")
    for path, data in (
        ("/subscribe", {"email": "ann@example.org", "brief": "daily"}),
        ("/subscribe", {"email": "ann@example.org", "brief": "daily", "csrf_token": "0" * 64}),
        ("/confirm", {"token": "x"}),
    ):
        answer = client.post(path, data=data)
        assert answer.status_code == 403 and "The form has expired" in answer.text
    fresh = TestClient(client.app)  # a cross-site form: no cookie at all
    form = client.get("/subscribe")
    stolen = {"email": "ann@example.org", "brief": "daily", "csrf_token": csrf_of(form.text)}
    assert fresh.post("/subscribe", data=stolen).status_code == 403
    assert mailbox.received == []


def test_one_click_unsubscribe_from_a_received_message(site, mailbox):
    client, settings, store, editions = site
    with store.session() as session:
        save_subscriber(session, "ann@example.org", name=None, briefs=["daily"], reactivate=True)
    send_edition(settings, store, editions["daily"].id)
    (received,) = mailbox.received
    link = re.findall(r"<(https://[^>]+)>", str(received.message["List-Unsubscribe"]))[0]
    path = link.removeprefix(PUBLIC_URL)

    shown = client.get(path)
    assert shown.status_code == 200 and "<button" in shown.text
    assert status_of(store, "ann@example.org") == ("active", ["daily"])  # GET changed nothing

    rfc8058 = TestClient(client.app)  # the mail provider: no cookie, no CSRF field
    answer = rfc8058.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "Unsubscribed" in answer.text
    assert status_of(store, "ann@example.org")[0] == "unsubscribed"
    # Again, as multipart/form-data (RFC 8058 allows both encodings): still 200.
    again = rfc8058.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert again.status_code == 200 and "Unsubscribed" in again.text
    assert token_of(received.message) in link


def test_a_token_stops_the_brief_its_message_was_for(site, mailbox):
    client, settings, store, editions = site
    with store.session() as session:
        save_subscriber(
            session, "ann@example.org", name=None, briefs=["daily", "desk"], reactivate=True
        )
    send_edition(settings, store, editions["desk"].id)
    token = token_of(mailbox.received[0].message)

    answer = client.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert status_of(store, "ann@example.org") == ("active", ["daily"])


def test_an_unsubscribe_post_without_the_one_click_body_changes_nothing(site, mailbox):
    client, settings, store, editions = site
    with store.session() as session:
        save_subscriber(session, "ann@example.org", name=None, briefs=["daily"], reactivate=True)
    send_edition(settings, store, editions["daily"].id)
    token = token_of(mailbox.received[0].message)

    assert client.post(f"/unsubscribe?token={token}", data={}).status_code == 400
    assert status_of(store, "ann@example.org") == ("active", ["daily"])


def test_an_unknown_token_gets_a_plain_page(site):
    client, *_ = site
    for answer in (
        client.get("/unsubscribe?token=" + "A" * 32),
        client.post("/unsubscribe?token=" + "A" * 32, data={"List-Unsubscribe": "One-Click"}),
        client.get("/unsubscribe"),
    ):
        assert answer.status_code == 404
        assert "This unsubscribe link is not known" in answer.text
        assert "Traceback" not in answer.text


def test_security_headers_methods_and_body_size(site):
    client, *_ = site
    for answer in (client.get("/"), client.get("/nowhere"), client.get("/static/web.css")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "script-src" not in answer.headers["content-security-policy"]
        assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert client.head("/").status_code == 200
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        answer = client.request(method, "/")
        assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD, POST"
    big = client.post(
        "/subscribe",
        content=b"email=" + b"a" * 20_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413


def test_serve_refuses_to_start_without_a_secret(tmp_path, cli):
    (tmp_path / "briefing.toml").write_text("[briefs.daily]\npublic = true\n")
    answer = cli("--config", str(tmp_path / "briefing.toml"), "serve", "--port", "1")

    assert answer.code == 1
    assert "web.secret_key: set BRIEFING_SECRET_KEY" in answer.err
    (tmp_path / "bad.toml").write_text('[web]\nsecret_key = "in the repo"\n')
    refused = cli("--config", str(tmp_path / "bad.toml"), "serve")
    assert refused.code == 1 and "secrets do not belong in files" in refused.err


def _confirmation_page(client, mailbox) -> str:
    form = client.get("/subscribe")
    client.post(
        "/subscribe",
        data={"email": "ann@example.org", "brief": "daily", "csrf_token": csrf_of(form.text)},
    )
    link = link_in(mailbox.received[-1].message.get_content(), "/confirm?token=")
    return link.removeprefix(PUBLIC_URL)


def test_a_confirmation_link_expires(site, mailbox, time_machine):
    client, _, store, _ = site
    time_machine.move_to("2026-01-10 12:00", tick=False)
    path = _confirmation_page(client, mailbox)
    time_machine.move_to("2026-01-12 12:01", tick=False)  # 2 days and a minute later

    page = client.get(path)
    assert page.status_code == 400 and "not valid or has expired" in page.text
    token = unquote(path.split("token=")[1])
    form = client.get("/subscribe")
    answer = client.post("/confirm", data={"token": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 400
    assert status_of(store, "ann@example.org") is None


def test_an_old_confirmation_link_cannot_undo_an_unsubscribe(site, mailbox, cli, tmp_path):
    client, _, store, _ = site
    path = _confirmation_page(client, mailbox)
    page = client.get(path)
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    client.post("/confirm", data={"token": token, "csrf_token": csrf_of(page.text)})
    config = ("--config", str(tmp_path / "briefing.toml"))
    assert cli(*config, "subscribers", "unsubscribe", "ann@example.org").code == 0

    again = client.post("/confirm", data={"token": token, "csrf_token": csrf_of(page.text)})
    assert again.status_code == 400 and "You unsubscribed after asking" in again.text
    assert status_of(store, "ann@example.org")[0] == "unsubscribed"


def test_serve_logs_one_line_per_request_as_json_without_tokens(tmp_path, server):
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.smtp_fixtures import free_port
    from tests.web_fixtures import CONFIG, SECRET

    config = tmp_path / "briefing.toml"
    config.write_text(CONFIG.format(public_url=PUBLIC_URL))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "briefing",
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
            "--log-format",
            "json",
        ],
        env={**os.environ, "BRIEFING_SECRET_KEY": SECRET},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/unsubscribe?token=SECRETTOKEN123456", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (request,) = [line for line in lines if line.get("event") == "request"]
    assert request["method"] == "GET" and request["path"] == "/unsubscribe"
    assert request["status"] == 404 and request["level"] == "info"
    assert "SECRETTOKEN" not in err


def test_without_public_url_the_site_takes_no_subscriptions(tmp_path, mailbox):
    settings = web_settings(tmp_path).model_copy(update={"public_url": None})
    store = Store(settings.db_url)
    client = TestClient(create_app(settings, store))
    form = client.get("/")

    assert 'href="/subscribe' not in form.text
    assert client.get("/subscribe").status_code == 404
    answer = client.post("/subscribe", data={"email": "ann@example.org", "brief": "daily"})
    assert answer.status_code == 404 and mailbox.received == []
    store.dispose()


def test_behind_a_proxy_under_a_path_links_keep_the_prefix_once(site):
    _, settings, store, editions = site
    client = TestClient(create_app(settings, store), root_path="/briefs-site")
    index = client.get("/")
    feed = feedparser.parse(client.get("/briefs/daily/feed.atom").content)

    assert 'href="/briefs-site/briefs/daily"' in index.text
    assert 'href="/briefs-site/static/web.css"' in index.text
    # public_url is where the site is: feed links are under it, without the prefix again.
    assert feed.entries[0].link == f"{PUBLIC_URL}/editions/{editions['daily'].id}"
