"""Settings: file, environment on top, and one clear line for each mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from briefing.config import DEFAULT_BRIEF, load_settings
from briefing.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "briefing.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file(tmp_path):
    settings = load_settings(None, {})
    assert settings.db_url == "sqlite:///output/briefing.db"
    assert settings.brief()[0] == DEFAULT_BRIEF
    assert settings.brief()[1].sections == ["military", "diplomatic", "aid"]


def test_environment_wins_over_the_file(tmp_path):
    path = write(tmp_path, 'output_dir = "state"\n[smtp]\nhost = "mail.example.org"\n')
    settings = load_settings(
        path,
        {
            "BRIEFING_DATABASE_URL": "sqlite:////tmp/x.db",
            "BRIEFING_SMTP_HOST": "127.0.0.1",
            "BRIEFING_SMTP_PASSWORD": "s3cret",
        },
    )
    assert settings.output_dir == tmp_path / "state"
    assert settings.db_url == "sqlite:////tmp/x.db"
    assert settings.smtp.host == "127.0.0.1"
    assert settings.smtp.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_config_file_found_through_the_environment(tmp_path):
    path = write(tmp_path, 'timezone = "Europe/Kyiv"\n')
    assert load_settings(None, {"BRIEFING_CONFIG": str(path)}).timezone == "Europe/Kyiv"


def test_briefs_are_named_and_validated(tmp_path):
    path = write(
        tmp_path,
        '[briefs.morning]\ntitle = "Morning"\nsections = ["aid", "military"]\n'
        'timezone = "Europe/Kyiv"\ncatch_up = "90m"\n',
    )
    settings = load_settings(path, {})
    name, spec = settings.brief()
    assert name == "morning" and spec.sections == ["aid", "military"]
    assert spec.catch_up == timedelta(minutes=90)
    with pytest.raises(ConfigError, match="unknown brief 'evening'; configured briefs: morning"):
        settings.brief("evening")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('timezone = "Europe/Kiev2"\n', "timezone: 'Europe/Kiev2' is not a known IANA time zone"),
        ("[briefs.a]\nsections = ['sport']\n", "briefs.a.sections: 'sport' is not one of"),
        ("colour = 'red'\n", "colour: unknown setting"),
        ("[smtp]\nport = 'x'\n", "smtp.port:"),
        ("[smtp]\npassword = 'x'\n", "passwords do not belong in files"),
        ("[briefs.a]\ncatch_up = 'soon'\n", "briefs.a.catch_up: 'soon' is not a duration"),
        ("timezone = \n", "briefing.toml: "),
        ("[briefs.a]\nschedule = 'every day'\n", "briefs.a.schedule: 'every day' is not a cron"),
        ("public_url = 'http://example.org'\n", "public_url: 'http://example.org' must start"),
        ("[figures.x]\nlabel = 'X'\naggregate = 'mean'\n", "figures.x.aggregate:"),
    ],
)
def test_mistakes_are_one_clear_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_environment_value_names_the_setting():
    with pytest.raises(ConfigError, match=r"environment: smtp\.security:"):
        load_settings(None, {"BRIEFING_SMTP_SECURITY": "tls13"})


def test_cli_reports_config_errors_with_exit_1(cli, tmp_path):
    write(tmp_path, 'timezone = "Mars/Olympus"\n')
    result = cli("events", "list")
    assert result.code == 1
    assert result.err.startswith("error: briefing.toml: timezone: 'Mars/Olympus'")


def test_paths_in_the_file_are_relative_to_it(tmp_path):
    path = write(tmp_path, 'template_dir = "look"\n[smtp]\noauth2_file = "secrets/oauth.json"\n')
    settings = load_settings(path, {})
    assert settings.template_dir == tmp_path / "look"
    assert settings.smtp.oauth2_file == tmp_path / "secrets" / "oauth.json"
    home = load_settings(write(tmp_path, '[smtp]\noauth2_file = "~/oauth.json"\n'), {})
    assert home.smtp.oauth2_file == Path("~/oauth.json").expanduser()
