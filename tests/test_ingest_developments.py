"""What issue 10 found wrong on real news, as a user of `briefing ingest text` meets it."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from briefing.ingest.figures import find_figures
from briefing.ingest.text import extract_events
from tests.ingest_fixtures import make_settings

ROUNDUP = """Ukraine war roundup

This is our live coverage of the war in Ukraine.

- Russia launched 19 drones as well as six missiles overnight; air defences destroyed 13 of the drones and one missile, the air force said
- Russian forces deployed 43 missiles and 74 drones against the Kharkiv region on Tuesday
- A man was killed in a drone attack on Kherson, the governor said
- Russian troops fired on the Nikopol district 40 times, launching 60 projectiles; no casualties were reported
- Foreign Minister Andrii Sybiha said the attack was a war crime
- The EU allocated €500 million in humanitarian aid and adopted four packages of sanctions
- Japan pledged a total of ¥15 billion in grant aid
- A Russian strike hit a UN humanitarian convoy near the front line in Donetsk
- Ukraine's air defences downed 63 Russian drones; Russia said it downed 62 Ukrainian drones
"""  # noqa: E501


@pytest.fixture
def roundup_events(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "briefing.toml").write_text('timezone = "Europe/Kyiv"\n')
    article = tmp_path / "roundup.txt"
    article.write_text(ROUNDUP, encoding="utf-8")
    result = cli(
        *("ingest", "text", article, "--published", "2025-03-12", "--source", "Wire"),
        *("--dry-run", "--json"),
    )
    assert result.code == 0, result.err
    return json.loads(result.out)


def _find(events: list[dict], words: str) -> dict:
    (found,) = [e for e in events if words in e["summary"]]
    return found


def test_each_bullet_and_each_kind_of_development_is_its_own_event(roundup_events):
    assert [e["category"] for e in roundup_events] == [
        *("military", "military", "military", "military", "diplomatic", "aid", "diplomatic"),
        *("aid", "humanitarian", "military", "military"),
    ]
    assert not any("live coverage" in e["summary"] for e in roundup_events)
    assert not any("roundup" in e["summary"] for e in roundup_events)


def test_counts_the_figure_list_had_no_name_for(roundup_events):
    assert _find(roundup_events, "19 drones")["figures"] == {
        "drones_launched": 19,
        "missiles_launched": 6,
        "drones_destroyed": 13,
        "missiles_destroyed": 1,
    }
    assert _find(roundup_events, "deployed 43")["figures"] == {
        "missiles_launched": 43,
        "drones_launched": 74,
    }
    assert _find(roundup_events, "A man was killed")["figures"] == {"killed": 1}
    nikopol = _find(roundup_events, "Nikopol")
    assert nikopol["figures"] == {"times_fired": 40, "projectiles_launched": 60}
    assert nikopol["category"] == "military"
    assert "60 projectiles; no casualties were reported" in nikopol["summary"]


def test_money_is_stored_once_in_its_own_currency(roundup_events):
    aid = _find(roundup_events, "€500 million")
    assert aid["figures"] == {"aid_value_eur": 500e6}
    assert aid["figure_notes"]["aid_value_eur"]["unit"] == "EUR"
    assert "sanctions" not in aid["summary"]
    sanctions = _find(roundup_events, "packages of sanctions")
    assert sanctions["title"] == "The EU adopted four packages of sanctions"
    assert _find(roundup_events, "¥15 billion")["figures"] == {"aid_value_jpy": 15e9}


def test_two_sides_counts_are_two_events_with_their_sides(roundup_events):
    ukraine = _find(roundup_events, "63 Russian drones")
    russia = _find(roundup_events, "62 Ukrainian drones")
    assert ukraine["figures"] == {"drones_destroyed": 63}
    assert ukraine["summary"] == "Ukraine's air defences downed 63 Russian drones."
    assert ukraine["figure_notes"]["drones_destroyed"]["side"] == "Ukraine"
    assert russia["figures"] == {"drones_destroyed": 62}
    assert russia["figure_notes"]["drones_destroyed"]["side"] == "Russia"


def test_every_event_explains_its_category_and_importance(roundup_events):
    for event in roundup_events:
        reason = event["classification"]
        assert 0 < reason["confidence"] <= 1
        assert reason["reasons"] and all(isinstance(r, str) for r in reason["reasons"])
        assert reason["importance_reason"]
    convoy = _find(roundup_events, "UN humanitarian convoy")["classification"]
    assert any("humanitarian convoy" in r for r in convoy["reasons"])
    killed = _find(roundup_events, "A man was killed")
    assert (killed["importance"], killed["classification"]["importance_reason"]) == (4, "1 killed")
    statement = _find(roundup_events, "war crime")["classification"]
    assert any("Foreign Minister" in r and "diplomatic" in r for r in statement["reasons"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Two dozen people were evacuated from Vovchansk.", [("evacuated", 24, None, None)]),
        (
            "Between 45 and 52 percent of the grid was damaged.",
            [("grid_percent", 45, None, 52)],
        ),
        (
            "At least 50 percent of the harvest was lost.",
            [("harvest_percent", 50, "at least", None)],
        ),
        (
            "Up to 1,000 troops crossed the border; about 11 tanks followed.",
            [
                ("troops_crossed", 1000, "up to", None),
                ("tanks_followed", 11, "approximately", None),
            ],
        ),
        (
            "Kyiv received ₴2.5bn, £300m and C$40 million in budget support.",
            [
                ("aid_value_uah", 2.5e9, None, None),
                ("aid_value_gbp", 300e6, None, None),
                ("aid_value_cad", 40e6, None, None),
            ],
        ),
        (
            "The air force intercepted 18 of 22 cruise missiles.",
            [("missiles_intercepted", 18, None, None), ("missiles_launched", 22, None, None)],
        ),
        (
            "Russian forces shelled 24 settlements, the governor said.",
            [("settlements_shelled", 24, None, None)],
        ),
        (
            "The EU widened its list, adding 52 vessels and stopping 3 banks.",
            [("vessels_added", 52, None, None), ("banks_stopped", 3, None, None)],
        ),
        (
            "Some 200 children were returned to Ukraine.",
            [("children_returned", 200, "approximately", None)],
        ),
        (
            "350 people, including 70 children, had been evacuated from Bilozerske.",
            [("evacuated", 350, None, None), ("children_evacuated", 70, None, None)],
        ),
        (
            "Some 7.7 million people are estimated to be internally displaced.",
            [("displaced", 7.7e6, "approximately", None)],
        ),
        (
            "Almost 40,000 tonnes of grain bound for Africa, for China and Israel were damaged.",
            [("tonnes_damaged", 40000, "approximately", None)],
        ),
        (
            "Russian forces struck energy facilities, as well as deployment points in 147 areas.",
            [("areas_struck", 147, None, None)],
        ),
        (
            "Russia launched 24 Shahed-131/136 drones and six Kh-101/555 cruise missiles.",
            [("drones_launched", 24, None, None), ("missiles_launched", 6, None, None)],
        ),
        (
            "Russia launched 212 drones; Ukraine downed or suppressed 189 of them.",
            [("drones_launched", 212, None, None), ("drones_destroyed", 189, None, None)],
        ),
        (
            "A Russian drone strike on a village killed a 47-year-old man.",
            [("killed", 1, None, None)],
        ),
        (
            "Russian forces advanced between 2 and 3 km west of Pokrovsk.",
            [("distance_km", 2, None, 3)],
        ),
        (
            "Denmark will give Ukraine 1.3 billion Danish crowns; the Commission disbursed €4.1 "
            "billion.",
            [("aid_value_dkk", 1.3e9, None, None), ("aid_value_eur", 4.1e9, None, None)],
        ),
    ],
)
def test_figures_are_an_open_set_with_their_notes(text, expected):
    found = [(f.name, f.value, f.qualifier, f.upper) for f in find_figures(text)]
    assert found == expected


def test_negation_and_background_do_not_count(tmp_path):
    settings = make_settings(tmp_path)
    published = date(2025, 3, 12)
    (event,) = extract_events(
        "Russian drones hit a warehouse in Odesa on Monday, the governor said. No casualties "
        "were reported, and the port has been shelled daily since February 24.",
        published=published,
        source="Wire",
        url=None,
        settings=settings,
    )
    assert event.category == "military" and "killed" not in event.figures
    assert event.occurred_at == datetime(2025, 3, 10, tzinfo=ZoneInfo("Europe/Kyiv"))
    (denial,) = extract_events(
        "The Kremlin denied launching missiles at Kyiv, spokesman Dmitry Peskov said.",
        published=published,
        source="Wire",
        url=None,
        settings=settings,
    )
    assert denial.category == "diplomatic", denial.classification["reasons"]
    assert any('"denied"' in r for r in denial.classification["reasons"])
    (no_launch,) = extract_events(
        "Russia did not launch missiles at Kyiv on Monday; its envoy met officials in Geneva.",
        published=published,
        source="Wire",
        url=None,
        settings=settings,
    )
    assert no_launch.category == "diplomatic", no_launch.classification["reasons"]
    assert any('negated "launch' in r for r in no_launch.classification["reasons"])


def test_headlines_commentary_and_framing_are_not_events(tmp_path):
    """Codebook: headlines and commentary that reports no act are not developments, even when
    a headline has a verb ("destroyed") or a commentary heading stands on its own line."""
    text = (
        "Kakhovka dam destroyed, evacuations under way in Kherson region\n\n"
        "Four years on, here is where things stand.\n\n"
        "Russia launched 40 drones at Kyiv overnight, the mayor said.\n\n"
        "Analysis: For now, the strikes have given Moscow what it wanted most.\n\n"
        "By striking ports near the border, Russia once again shows its disregard for law.\n\n"
        "European governments have been scrambling to fill gaps, analysts say.\n\n"
        "OUR ASSESSMENT\n\n"
        "The offensive has so far produced incremental gains at a high cost."
    )
    events = extract_events(
        text, published=date(2025, 3, 12), source="Wire", url=None, settings=make_settings(tmp_path)
    )
    assert [e.figures for e in events] == [{"drones_launched": 40}]


def test_a_first_line_that_reports_and_a_judgement_with_a_count_are_kept(tmp_path):
    """A pasted report whose first line is attributed is no headline; a sentence opening like
    commentary that counts something reports it."""
    text = (
        "Russia launched 40 drones at Kyiv overnight, the mayor said\n\n"
        "For now, 20 people remain in hospital."
    )
    events = extract_events(
        text, published=date(2025, 3, 12), source="Wire", url=None, settings=make_settings(tmp_path)
    )
    assert [e.figures for e in events] == [{"drones_launched": 40}, {"people": 20}]


def test_another_actors_act_in_the_same_sentence_is_its_own_development(tmp_path):
    events = extract_events(
        "The Netherlands said it would contribute €350 million to buy shells for Ukraine, while "
        "Lithuania pledged another 35 million euros for drones.",
        published=date(2025, 3, 12),
        source="Wire",
        url=None,
        settings=make_settings(tmp_path),
    )
    assert [e.figures for e in events] == [
        {"aid_value_eur": 350e6},
        {"aid_value_eur": 35e6},
    ]


def test_a_paragraph_without_a_final_stop_is_kept_and_a_headline_is_not(tmp_path):
    events = extract_events(
        "Kyiv hit by drones\n\nRussia launched 40 drones at Kyiv overnight, the mayor said",
        published=date(2025, 3, 12),
        source="Wire",
        url=None,
        settings=make_settings(tmp_path),
    )
    assert [e.figures for e in events] == [{"drones_launched": 40}]


def test_the_title_is_the_developments_lead_sentence(tmp_path):
    (event,) = extract_events(
        "Russia launched 116 drones and three missiles at Ukraine overnight, the air force said. "
        "Air defences shot down 59 drones.",
        published=date(2024, 10, 26),
        source="Wire",
        url=None,
        settings=make_settings(tmp_path),
    )
    assert event.title.startswith("Russia launched 116 drones")
    assert event.figures == {"drones_launched": 116, "missiles_launched": 3, "drones_destroyed": 59}


def test_the_party_that_reports_a_count_is_not_taken_for_its_side(tmp_path):
    (reported, own) = extract_events(
        "The Ukrainian air force reports that 116 drones were launched overnight.\n\n"
        "Russia's defence ministry said its air defences had shot down 337 Ukrainian drones.",
        published=date(2024, 10, 26),
        source="Wire",
        url=None,
        settings=make_settings(tmp_path),
    )
    assert reported.figures == {"drones_launched": 116}
    assert "drones_launched" not in reported.figure_notes  # no side, no qualifier, no unit
    assert own.figure_notes["drones_destroyed"].side == "Russia"


def test_what_continues_a_development_joins_it_and_is_no_event_of_its_own(tmp_path):
    """Codebook: a follow-on sentence with no act of its own (rescuers at the scene, the blast's
    other damage, a quotation, background, a description of a state) goes on the development
    before it; 'Analysts said…' is commentary. A live blog's present tense still reports."""
    text = (
        "Russian missiles hit Dnipro overnight, killing four people, the governor said.\n\n"
        "Rescuers pulled two people from the rubble, the emergency service said.\n\n"
        "Needs remain enormous as winter approaches.\n\n"
        '"People have survived months of hardship. We will be back," said the UN coordinator.\n\n'
        "Dnipro, about 400 km southeast of Kyiv, had been largely spared since the spring.\n\n"
        "Today's announcement takes UK military support since February 2022 to over £4 billion."
        "\n\nAnalysts said the strike marked a turn in the campaign.\n\n"
        "The EU adopted a new package of sanctions against Russia on Friday.\n\n"
        "Zelensky urges allies to send more air defence."
    )
    events = extract_events(
        text, published=date(2025, 3, 12), source="Wire", url=None, settings=make_settings(tmp_path)
    )
    assert [(e.category, e.figures.get("killed")) for e in events] == [
        ("military", 4),
        ("diplomatic", None),
        ("diplomatic", None),
    ]
    assert "Rescuers pulled two people" in events[0].summary
    assert events[0].category == "military", events[0].classification["reasons"]


def test_a_stamped_entry_that_reports_its_own_count_stays_its_own(tmp_path):
    events = extract_events(
        "13:20 Russian missiles struck Sumy, killing 20 people.\n"
        "14:45 Rescuers finished searching the rubble; 84 buildings were damaged, officials said.",
        published=date(2025, 3, 12),
        source="Wire",
        url=None,
        settings=make_settings(tmp_path),
    )
    assert [e.figures for e in events] == [{"killed": 20}, {"buildings_damaged": 84}]


def test_casualty_details_running_totals_and_correspondents_are_no_events(tmp_path):
    """Codebook: who was among the casualties, what caused most of them, a total since a date,
    what a purchase will help do and background from the war's first weeks continue the
    development before them; a correspondent's impression and 'This blog is now closed' are
    no development."""
    text = (
        "A Russian missile struck the main square of Chernihiv, killing seven people.\n\n"
        "Several children were among the wounded, the interior minister said. Chernihiv was "
        "partially encircled by Russian troops in the first weeks of the invasion.\n\n"
        "Most of the casualties were caused by the blast wave.\n\n"
        "Our correspondent in Chernihiv says the mood in the city is grim.\n\n"
        "Canada will provide $10 million in military aid to Ukraine. This purchase will help "
        "Ukraine defend its cities. Since February 2022, Canada has committed more than $1 "
        "billion in military assistance to Ukraine.\n\n"
        "This blog is now closed."
    )
    events = extract_events(
        text, published=date(2025, 3, 12), source="Wire", url=None, settings=make_settings(tmp_path)
    )
    assert [(e.category, e.figures) for e in events] == [
        ("military", {"missiles_launched": 1, "killed": 7}),
        ("aid", {"aid_value_usd": 10_000_000}),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sweden agreed that Ukraine would buy between 100 and 150 Gripen E fighter jets.",
            [("jets_bought", 100, None, 150)],
        ),
        (
            "Germany will send 25 Leopard 1 tanks.",
            [("tanks_sent", 25, None, None)],
        ),
        (
            "Norway pledged 7.5bn crowns ($710m) to buy air-defence systems for Ukraine.",
            [("aid_value_nok", 7.5e9, None, None)],
        ),
        (
            "Drones hit a terminal about 250 miles away.",
            [("distance_km", 402.3, "approximately", None)],
        ),
        (
            "Russia fired missiles at Odesa, using 19 missiles of various types.",
            [("missiles_launched", 19, None, None)],
        ),
        (
            "A drone hit a car, killing a woman and her teenage son.",
            [("drones_launched", 1, None, None), ("killed", 2, None, None)],
        ),
        (
            "A Russian cruise missile slammed into an apartment building, killing 20 people.",
            [("missiles_launched", 1, None, None), ("killed", 20, None, None)],
        ),
        (
            "A Russian missile hit the hospital, part of a barrage of 38 missiles.",
            [("missiles_launched", 38, None, None)],
        ),
        (
            "Russia fired 23 Kh-101 and Kh-555 cruise missiles; 21 were destroyed.",
            [("missiles_launched", 23, None, None), ("missiles_destroyed", 21, None, None)],
        ),
        (
            "Norway will donate three M270 multiple rocket launchers.",
            [("launchers_donated", 3, None, None)],
        ),
        (
            "Russia launched 28 drones overnight; air defences shot down 26, the air force said.",
            [("drones_launched", 28, None, None), ("drones_destroyed", 26, None, None)],
        ),
        (
            "Russia had sent 146 drones and air defences had neutralised 118 of the 146.",
            [("drones_launched", 146, None, None), ("drones_destroyed", 118, None, None)],
        ),
        (
            "Russia cut flows through Nord Stream 1 to 40 percent of capacity.",
            [("capacity_percent", 40, None, None)],
        ),
        (
            "Russia launched 405 drones, targeting energy facilities in at least nine regions.",
            [("drones_launched", 405, None, None), ("regions_targeted", 9, "at least", None)],
        ),
    ],
)
def test_figures_follow_the_codebook_in_more_phrasings(text, expected):
    found = [(f.name, f.value, f.qualifier, f.upper) for f in find_figures(text)]
    assert found == expected


def test_another_actors_act_after_where_or_a_plural_subject_is_its_own(tmp_path):
    events = extract_events(
        "Zelensky met Biden at the G7 summit in Hiroshima, where Biden announced a further $375 "
        "million in military aid. Officials from 45 countries met in The Hague, and EU "
        "governments agreed to a fifth tranche of €500 million in military support for Kyiv.",
        published=date(2025, 3, 12),
        source="Wire",
        url=None,
        settings=make_settings(tmp_path),
    )
    assert [e.category for e in events] == ["diplomatic", "aid", "diplomatic", "aid"]
