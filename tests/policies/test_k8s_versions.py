"""AKS's supported Kubernetes minors: the data file, its loader, and that the pack can import it on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from policies.k8s_versions import (
    DATA_FILE,
    SupportStatus,
    default_minor,
    load,
    minor_of,
    support_status,
)

TODAY = date(2026, 12, 1)


def test_the_data_names_its_source_and_when_it_was_read():
    data = load()
    assert data.source.startswith("https://learn.microsoft.com/azure/aks/supported-kubernetes-versions")
    assert data.page_updated <= data.read_on
    raw = json.loads(DATA_FILE.read_text())
    assert "f988e7e8b023581e9e736cefa17b035a02e7b686" in raw["sourceText"]  # the page revision transcribed
    # A page older than the day it was read says so, for whoever relies on the planned dates.
    assert data.page_updated < data.read_on and any("older" in note for note in raw["notes"])


def test_every_minor_is_ordered_and_offers_lts_after_standard_support():
    minors = load().minors
    assert [m.minor for m in minors] == ["1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37"]
    for m in minors:
        assert m.lts_end_of_life is not None, m.minor
        assert m.aks_ga < m.end_of_standard_support < m.lts_end_of_life, m.minor


@pytest.mark.parametrize(
    "version, lts, expected",
    [
        ("1.33", False, SupportStatus.ENDED),  # standard support ended 2026-07-31 (the stacks' old pin)
        ("1.33.2", False, SupportStatus.ENDED),  # a patch version is judged by its minor
        ("1.33", True, SupportStatus.SUPPORTED),  # the LTS plan covers it to 2027-07-31
        ("1.34", False, SupportStatus.ENDED),  # ended the day before TODAY
        ("1.35.4", False, SupportStatus.SUPPORTED),
        ("1.36", False, SupportStatus.SUPPORTED),
        ("1.37", False, SupportStatus.UNKNOWN),  # GA Oct 2026 was a plan on the 2026-08-05 page: not on record
        ("1.31", True, SupportStatus.ENDED),  # even LTS ended 2026-11-30
        ("1.99", False, SupportStatus.UNKNOWN),
    ],
)
def test_support_status_on_a_fixed_day(version, lts, expected):
    assert support_status(version, TODAY, lts=lts) is expected


def test_the_last_day_of_support_is_still_supported():
    assert support_status("1.34", date(2026, 11, 30)) is SupportStatus.SUPPORTED
    assert support_status("1.34", date(2026, 12, 1)) is SupportStatus.ENDED


@pytest.mark.parametrize("odd", [None, 1.33, "", "v1.33", "1", "1.33.2.1", "${unknown}", ["1.33"], {"v": "1.33"}])
def test_odd_values_are_unknown_not_a_crash(odd):
    assert minor_of(odd) is None
    assert support_status(odd, TODAY) is SupportStatus.UNKNOWN


def test_the_default_is_the_newest_ga_minor_with_a_quarter_of_support_left():
    assert default_minor(TODAY) == "1.36"
    assert default_minor(date(2026, 5, 15)) == "1.35"  # before 1.36's GA month
    assert default_minor(date(2027, 2, 1)) == "1.36"  # 1.37's planned GA is never the default
    assert default_minor(TODAY, min_support_days=211) == "1.36"  # TODAY + 211 days = 2027-06-30, 1.36's last day
    assert support_status(default_minor(TODAY), TODAY) is SupportStatus.SUPPORTED


def test_stale_data_asks_for_a_refresh_instead_of_guessing():
    with pytest.raises(LookupError, match=r"refresh it from https://learn\.microsoft\.com/azure/aks/"):
        default_minor(date(2027, 6, 1))  # 1.36 has less than 90 days left; 1.37 is only planned
    with pytest.raises(LookupError):
        default_minor(TODAY, min_support_days=212)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda raw: raw["minors"][0].update(minor="1.29.1"), r"minors\[0\]\.minor: '1\.29\.1' is not a MAJOR\.MINOR"),
        (lambda raw: raw["minors"][1].update(aksGa="Jul 2024"), r"minors\[1\]\.aksGa: 'Jul 2024' is not a YYYY-MM"),
        (lambda raw: raw["minors"][2].update(endOfStandardSupport="2023-01-01"), r"minors\[2\]: dates out of order"),
        (lambda raw: raw["minors"].reverse(), r"unique and oldest first"),
        (lambda raw: raw.update(readOn="soon"), r"readOn: 'soon' is not a YYYY-MM-DD"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_field(tmp_path, change, message):
    raw = json.loads(DATA_FILE.read_text())
    change(raw)
    path = tmp_path / "versions.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=message):
        load(path)


def test_the_policy_pack_imports_it_without_the_program():
    # The pack runs from its own folder (deployed alone): only the standard library may come along.
    script = (
        "import sys, datetime, k8s_versions; "
        "print(k8s_versions.default_minor(datetime.date(2026, 12, 1))); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'components', 'stack_config', 'tools', 'pulumi', 'pulumi_policy', 'policies'}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=DATA_FILE.parents[1], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["1.36", "[]"]
