"""Every brief and [ingest] setting is in the README, with the default the code uses."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from briefing.config import BriefSpec, IngestSettings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(BriefSpec.model_fields))
def test_every_brief_setting_is_documented(name):
    table = README.split("A brief, `[briefs.NAME]`:", 1)[1].split("\n\n", 2)[1]
    assert f"`{name}`" in table


def test_the_ingest_example_is_every_setting_at_its_default():
    block = README.split("```toml\n[ingest]\n", 1)[1].split("```", 1)[0]
    documented = IngestSettings.model_validate(tomllib.loads(block))
    assert set(tomllib.loads(block)) == set(IngestSettings.model_fields)
    assert documented == IngestSettings()
