"""The scanner preset table the evidence owns: the phantom follows it, IT can extend it, an unknown
scanner is linearized with the stated default and the readout says it was assumed."""
from __future__ import annotations

import json

import pytest

from ceusdesk.base.errors import CeusdeskError
from ceusdesk.evidence import scanners
from ceusdesk.evidence.intensity import DEFAULT_DYNAMIC_RANGE_DB, linearization_for
from ceusdesk.phantom.scanner import MANUFACTURER, PROFILES


def test_the_phantom_takes_its_dynamic_range_from_the_evidence_table():
    table = scanners.builtin_table()
    for profile in PROFILES.values():
        preset = table.find(MANUFACTURER, profile.model)
        assert preset is not None, profile.model
        assert profile.ceus_range_db == preset.dynamic_range_db
        assert preset.gamma == (0.8 if profile.colour == "gold" else 1.0)  # the amber map's curve


def test_the_default_is_the_tables_and_an_unknown_scanner_is_said_to_be_assumed():
    assert DEFAULT_DYNAMIC_RANGE_DB == scanners.builtin_table().default_dynamic_range_db
    text = linearization_for("ACME Ultrasound", "Z9").describe()
    assert "assumed" in text and "scanners.json" in text


def test_a_site_table_adds_a_scanner_and_wins_over_the_built_in(tmp_path, monkeypatch):
    site = tmp_path / "site-scanners.json"
    site.write_text(json.dumps({"presets": [
        {"manufacturer": "ACME Ultrasound", "model": "Z9", "dynamic_range_db": 48},
        {"manufacturer": "ACME Ultrasound", "model": "Z9", "protocol": "Liver CEUS", "dynamic_range_db": 36},
        {"manufacturer": MANUFACTURER, "model": "PH-100 Classic", "dynamic_range_db": 30},
    ]}))
    monkeypatch.setenv(scanners.ENV_SCANNERS, str(site))
    assert linearization_for("acme ultrasound", "z9").dynamic_range_db == 48
    # the entry naming the clip's protocol is the more specific one
    lin = linearization_for("ACME Ultrasound", "Z9", "Liver CEUS")
    assert lin.dynamic_range_db == 36 and "site-scanners.json" in lin.describe()
    assert linearization_for(MANUFACTURER, "PH-100 Classic").dynamic_range_db == 30
    assert linearization_for("Other", "X").dynamic_range_db == DEFAULT_DYNAMIC_RANGE_DB  # no default given


@pytest.mark.parametrize("doc, words", [
    ("{not json", "cannot be read as JSON"),
    (json.dumps({"presets": [{"manufacturer": "A", "model": "B", "dynamic_range_db": "wide"}]}),
     "presets[0]: dynamic_range_db must be a number"),
    (json.dumps({"presets": [{"manufacturer": "A", "model": "B", "dynamic_range_db": 1e9}]}),
     "dynamic_range_db must be a number from 6 to 120"),
    (json.dumps({"presets": [{"model": "B", "dynamic_range_db": 40}]}), "needs 'manufacturer' and 'model'"),
])
def test_a_bad_site_table_is_refused_in_one_line_naming_it(tmp_path, monkeypatch, doc, words):
    site = tmp_path / "scanners.json"
    site.write_text(doc)
    monkeypatch.setenv(scanners.ENV_SCANNERS, str(site))
    with pytest.raises(CeusdeskError) as info:
        linearization_for("A", "B")
    message = str(info.value)
    assert str(site) in message and words in message and "\n" not in message
