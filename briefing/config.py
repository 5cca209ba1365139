"""Settings, read once from `briefing.toml` and `BRIEFING_*` variables, validated up front."""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from briefing.errors import ConfigError, validation_problems

DEFAULT_CATEGORIES = ["military", "diplomatic", "aid", "humanitarian", "other"]
DEFAULT_BRIEF = "daily"
CONFIG_FILE = "briefing.toml"

_CRON = re.compile(r"^\s*(@[a-z]+|[\w*/,?#-]+(\s+[\w*/,?#-]+){4,5})\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a known IANA time zone (e.g. 'Europe/Kyiv', 'UTC')"
        ) from None
    return name


def _check_cron(expression: str) -> str:
    """The shape of a cron expression; the scheduler checks each field's values when it starts."""
    if not _CRON.match(expression):
        raise ValueError(
            f"{expression!r} is not a cron expression (5 fields, 6 with seconds first, or @daily)"
        )
    return expression


def _check_locale(name: str) -> str:
    """A locale Babel knows ('en_GB', 'uk', 'fr_FR'), so formatting never fails mid-render."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{name!r} is not a known locale (e.g. 'en_GB', 'de_DE', 'uk')") from None
    return name


def _check_asset_name(name: str) -> str:
    """A file inside the template folder: a relative path without '..', no address."""
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or ":" in name:
        raise ValueError(f"{name!r} must be a file name inside the template folder")
    return name


def parse_duration(value: Any) -> timedelta:
    """Read '6h', '90m', '1d' or a bare number of hours."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration such as '6h', '90m' or '1d'")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class FigureSpec(_Model):
    """How a named figure is shown and how it adds up over a brief's window."""

    label: str
    unit: str = ""
    aggregate: Literal["sum", "max", "latest"] = "sum"


DEFAULT_FIGURES: dict[str, FigureSpec] = {
    "drones_launched": FigureSpec(label="Drones launched"),
    "drones_destroyed": FigureSpec(label="Drones destroyed"),
    "drones_intercepted": FigureSpec(label="Drones intercepted"),
    "missiles_launched": FigureSpec(label="Missiles launched"),
    "missiles_destroyed": FigureSpec(label="Missiles destroyed"),
    "missiles_intercepted": FigureSpec(label="Missiles intercepted"),
    **{
        f"{kind}_{currency.lower()}": FigureSpec(label=label, unit=currency)
        for kind, label in (
            ("military_aid", "Military aid pledged"),
            ("humanitarian_aid", "Humanitarian aid pledged"),
            ("aid_value", "Aid pledged, military or humanitarian not stated"),
        )
        for currency in ("USD", "EUR", "GBP", "CAD", "UAH")
    },
    "killed": FigureSpec(label="Killed"),
    "injured": FigureSpec(label="Injured"),
    "distance_km": FigureSpec(
        label="Deepest strike, distance from the border", unit="km", aggregate="max"
    ),
}


class BriefSpec(_Model):
    """One named brief: what it shows, for whom, and when it is made."""

    title: str = "Situation Brief"
    sections: list[str] = Field(default_factory=lambda: ["military", "diplomatic", "aid"])
    tags: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    timezone: str | None = None
    schedule: str = "0 7 * * *"
    catch_up: timedelta = timedelta(hours=6)
    subject: str = "{title} — {date}"
    takeaways: int = Field(default=5, ge=0, le=20)
    public: bool = False
    # Review gate: "required" publishes only approved events; "auto" also lets through pending
    # ingested events whose confidence is above `auto_approve_above`.
    review: Literal["required", "auto"] = "auto"
    auto_approve_above: float = Field(default=0.7, ge=0, le=1)
    send_when_empty: bool = False
    locale: str = "en_GB"
    publisher: str | None = Field(default=None, max_length=200)
    distribution: str | None = Field(default=None, max_length=300)
    logo: str | None = None
    series: list[str] = Field(default_factory=list)

    _zone = field_validator("timezone")(lambda v: v if v is None else _check_zone(v))
    _catch_up = field_validator("catch_up", mode="before")(parse_duration)
    _schedule = field_validator("schedule")(_check_cron)
    _locale = field_validator("locale")(lambda v: _check_locale(v))
    _logo = field_validator("logo")(lambda v: v if v is None else _check_asset_name(v))


class SmtpSettings(_Model):
    """Where mail goes; the password is only ever read from the environment or the keyring."""

    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "starttls"
    user: str | None = None
    password: SecretStr | None = None
    use_keyring: bool = False
    oauth2_file: Path | None = None
    from_address: str = "briefing@localhost"
    from_name: str = "Briefing"
    unsubscribe_address: str | None = None
    timeout: float = Field(default=30, gt=0)
    rate_limit: float = Field(default=0, ge=0)
    connections: int = Field(default=1, ge=1, le=32)
    max_attempts: int = Field(default=5, ge=1)
    backoff: float = Field(default=1.0, ge=0)
    claim_timeout: timedelta = timedelta(minutes=10)

    _claim = field_validator("claim_timeout", mode="before")(parse_duration)
    _oauth2 = field_validator("oauth2_file")(lambda v: v.expanduser() if v else v)


class WebSettings(_Model):
    """`briefing serve`: the secret that signs links and forms, and the limits it enforces."""

    secret_key: SecretStr | None = None
    confirm_within: timedelta = timedelta(days=2)
    page_size: int = Field(default=20, ge=1, le=200)
    max_body: int = Field(default=16_384, ge=1024)
    subscribe_per_client: int = Field(default=5, ge=1)
    subscribe_per_address: int = Field(default=3, ge=1)
    rate_window: timedelta = timedelta(hours=1)
    forwarded_allow_ips: str = "127.0.0.1"

    _durations = field_validator("confirm_within", "rate_window", mode="before")(parse_duration)


class FeedSpec(_Model):
    """A news feed polled before briefs are composed."""

    url: str
    source: str | None = None
    interval: timedelta = timedelta(minutes=30)

    _interval = field_validator("interval", mode="before")(parse_duration)


class Settings(_Model):
    """Every setting of briefing, with its default."""

    database_url: str | None = None
    output_dir: Path = Path("output")
    template_dir: Path | None = None
    timezone: str = "UTC"
    author: str = "briefing"
    categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    figures: dict[str, FigureSpec] = Field(default_factory=dict)
    briefs: dict[str, BriefSpec] = Field(default_factory=dict)
    default_brief: str | None = None
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    feeds: dict[str, FeedSpec] = Field(default_factory=dict)
    web: WebSettings = Field(default_factory=WebSettings)
    public_url: str | None = None
    admins: list[str] = Field(default_factory=list)
    lexicon: dict[str, dict[str, float]] = Field(default_factory=dict)

    _zone = field_validator("timezone")(_check_zone)

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value and not value.startswith("https://"):
            raise ValueError(f"{value!r} must start with https:// (one-click unsubscribe needs it)")
        return value.rstrip("/") if value else value

    @property
    def db_url(self) -> str:
        """The database URL; SQLite inside the output folder unless one is given."""
        return self.database_url or f"sqlite:///{self.output_dir / 'briefing.db'}"

    @property
    def figure_specs(self) -> dict[str, FigureSpec]:
        return {**DEFAULT_FIGURES, **self.figures}

    @property
    def brief_names(self) -> list[str]:
        return list(self.briefs) or [DEFAULT_BRIEF]

    def brief(self, name: str | None = None) -> tuple[str, BriefSpec]:
        """The named brief, or the default one; unknown names are a ConfigError."""
        name = name or self.default_brief or self.brief_names[0]
        if name in self.briefs:
            return name, self.briefs[name]
        if not self.briefs and name == DEFAULT_BRIEF:
            return name, BriefSpec()
        known = ", ".join(self.brief_names)
        raise ConfigError(f"unknown brief {name!r}; configured briefs: {known}")

    def brief_zone(self, spec: BriefSpec) -> ZoneInfo:
        return ZoneInfo(spec.timezone or self.timezone)


ENVIRONMENT = {
    "BRIEFING_DATABASE_URL": ("database_url",),
    "BRIEFING_OUTPUT_DIR": ("output_dir",),
    "BRIEFING_TEMPLATE_DIR": ("template_dir",),
    "BRIEFING_TIMEZONE": ("timezone",),
    "BRIEFING_PUBLIC_URL": ("public_url",),
    "BRIEFING_SMTP_HOST": ("smtp", "host"),
    "BRIEFING_SMTP_PORT": ("smtp", "port"),
    "BRIEFING_SMTP_SECURITY": ("smtp", "security"),
    "BRIEFING_SMTP_USER": ("smtp", "user"),
    "BRIEFING_SMTP_PASSWORD": ("smtp", "password"),
    "BRIEFING_MAIL_FROM": ("smtp", "from_address"),
    "BRIEFING_SECRET_KEY": ("web", "secret_key"),
}
_FILE_PATHS = ((None, "output_dir"), (None, "template_dir"), ("smtp", "oauth2_file"))


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if "password" in data.get("smtp", {}):
        raise ConfigError(
            f"{path}: smtp.password: passwords do not belong in files; "
            "set BRIEFING_SMTP_PASSWORD or smtp.use_keyring = true"
        )
    if "secret_key" in data.get("web", {}):
        raise ConfigError(
            f"{path}: web.secret_key: secrets do not belong in files; set BRIEFING_SECRET_KEY"
        )
    for section, key in _FILE_PATHS:
        table = data.get(section, {}) if section else data
        if key in table and not Path(table[key]).expanduser().is_absolute():
            table[key] = str(path.parent / table[key])
    return data


def _apply_environment(data: dict[str, Any], environ: dict[str, str]) -> None:
    for variable, keys in ENVIRONMENT.items():
        if environ.get(variable):
            target = data
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = environ[variable]


def _describe(exc: ValidationError, source: str) -> str:
    where, message = validation_problems(exc, unknown="unknown setting")[0]
    return f"{source}: {where.replace('(record)', '(top level)')}: {message}"


def load_settings(
    path: Path | str | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Settings from the file (given, $BRIEFING_CONFIG, or ./briefing.toml if present) and env."""
    environ = dict(os.environ if environ is None else environ)
    chosen = path or environ.get("BRIEFING_CONFIG")
    if chosen is None and Path(CONFIG_FILE).is_file():
        chosen = CONFIG_FILE
    data = _read_file(Path(chosen)) if chosen else {}
    _apply_environment(data, environ)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(chosen or "environment"))) from None
    _check_consistency(settings, str(chosen or "environment"))
    return settings


def _check_consistency(settings: Settings, source: str) -> None:
    for name, spec in settings.briefs.items():
        for section in spec.sections:
            if section not in settings.categories:
                raise ConfigError(
                    f"{source}: briefs.{name}.sections: {section!r} is not one of the "
                    f"categories {', '.join(settings.categories)}"
                )
    if settings.default_brief and settings.default_brief not in settings.brief_names:
        raise ConfigError(f"{source}: default_brief: no brief named {settings.default_brief!r}")
