"""AKS's Kubernetes minors and their support dates, read from one data file that names its source and date.

The data is ``data/aks-kubernetes-versions.json`` (AKS's release calendar, transcribed with the page's commit and
the day it was read). This module uses the standard library only: the policy pack is deployed as the ``policies``
folder alone and imports it as ``k8s_versions``; the program imports the same file as ``policies.k8s_versions``.

    support_status("1.33.2", date(2026, 12, 1))          # SupportStatus.ENDED: standard support ended 2026-07-31
    support_status("1.33", date(2026, 12, 1), lts=True)  # SupportStatus.SUPPORTED: LTS runs to 2027-07-31
    default_minor(date(2026, 12, 1))                      # "1.36"

Choosing the default: the newest minor whose AKS GA is on record in the data (a GA month after the page's own
date is a plan, not a release) and whose standard support lasts at least ``DEFAULT_MIN_SUPPORT_DAYS`` beyond
``today``. Newest, because each minor gets about twelve months of standard support from its GA; the margin,
because a cluster created on a minor about to fall out of support starts life needing an upgrade.
"""

from __future__ import annotations

import calendar as _calendar
import enum
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "data" / "aks-kubernetes-versions.json"

# A quarter: the default minor keeps standard support through at least a few weekly auto-upgrade windows.
DEFAULT_MIN_SUPPORT_DAYS = 90

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class SupportStatus(enum.StrEnum):
    SUPPORTED = "supported"
    ENDED = "ended"
    UNKNOWN = "unknown"  # not in the data, not a version, or its GA is only a plan in the data


@dataclass(frozen=True)
class MinorVersion:
    minor: str
    aks_ga: date  # the first day of the GA month: the calendar gives months only
    end_of_standard_support: date  # last day covered
    lts_end_of_life: date | None  # last day covered with the LTS support plan (Premium tier), if offered
    ga_on_record: bool  # GA month not after the page's own date: a release that happened, not a plan

    def end_of_support(self, lts: bool) -> date:
        """The last day covered; the LTS plan extends standard support where AKS offers it."""
        return self.lts_end_of_life if lts and self.lts_end_of_life else self.end_of_standard_support


@dataclass(frozen=True)
class VersionCalendar:
    source: str
    page_updated: date
    read_on: date
    minors: tuple[MinorVersion, ...]  # oldest first

    def get(self, minor: str) -> MinorVersion | None:
        return next((m for m in self.minors if m.minor == minor), None)


def minor_of(version: object) -> str | None:
    """``"1.33"`` for ``"1.33"`` or ``"1.33.2"``; None for anything else (unknowns and odd shapes included)."""
    match = _VERSION.match(version) if isinstance(version, str) else None
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def _minor_key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def _month_start(text: str, where: str) -> date:
    match = _MONTH.match(text)
    if not match:
        raise ValueError(f"{where}: {text!r} is not a YYYY-MM month")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _date(text: Any, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {text!r} is not a YYYY-MM-DD date") from None


def _parse(raw: dict, where: str) -> VersionCalendar:
    page_updated = _date(raw.get("pageUpdated"), f"{where}: pageUpdated")
    last_day = _calendar.monthrange(page_updated.year, page_updated.month)[1]
    page_month_end = page_updated.replace(day=last_day)
    minors = []
    for i, row in enumerate(raw.get("minors") or []):
        at = f"{where}: minors[{i}]"
        minor = minor_of(row.get("minor"))
        if minor is None or minor != row.get("minor"):
            raise ValueError(f"{at}.minor: {row.get('minor')!r} is not a MAJOR.MINOR version")
        ga = _month_start(str(row.get("aksGa")), f"{at}.aksGa")
        standard = _date(row.get("endOfStandardSupport"), f"{at}.endOfStandardSupport")
        lts = _date(row["ltsEndOfLife"], f"{at}.ltsEndOfLife") if row.get("ltsEndOfLife") else None
        if standard <= ga or (lts is not None and lts <= standard):
            raise ValueError(f"{at}: dates out of order (aksGa < endOfStandardSupport < ltsEndOfLife)")
        minors.append(MinorVersion(minor, ga, standard, lts, ga_on_record=ga <= page_month_end))
    if not minors:
        raise ValueError(f"{where}: no minors")
    names = [m.minor for m in minors]
    if names != sorted(set(names), key=_minor_key):
        raise ValueError(f"{where}: minors must be unique and oldest first, got {names}")
    return VersionCalendar(
        source=str(raw.get("source") or ""),
        page_updated=page_updated,
        read_on=_date(raw.get("readOn"), f"{where}: readOn"),
        minors=tuple(minors),
    )


@cache
def load(path: Path = DATA_FILE) -> VersionCalendar:
    """The calendar in ``path``; a malformed file raises ValueError naming the field."""
    return _parse(json.loads(path.read_text()), str(path))


def support_status(
    version: object, today: date, *, lts: bool = False, data: VersionCalendar | None = None
) -> SupportStatus:
    """Whether AKS supports ``version`` (a minor or a patch) on ``today``; ``lts`` = the LTS support plan."""
    minor = minor_of(version)
    info = (data or load()).get(minor) if minor else None
    if info is None or not info.ga_on_record:
        return SupportStatus.UNKNOWN
    if today > info.end_of_support(lts):
        return SupportStatus.ENDED
    return SupportStatus.SUPPORTED if today >= info.aks_ga else SupportStatus.UNKNOWN


def default_minor(
    today: date, *, min_support_days: int = DEFAULT_MIN_SUPPORT_DAYS, data: VersionCalendar | None = None
) -> str:
    """The newest GA-on-record minor with at least ``min_support_days`` of standard support left at ``today``."""
    calendar = data or load()
    horizon = today + timedelta(days=min_support_days)
    for info in reversed(calendar.minors):
        if info.ga_on_record and info.aks_ga <= today and info.end_of_standard_support >= horizon:
            return info.minor
    raise LookupError(
        f"no AKS minor in {DATA_FILE.name} (read {calendar.read_on}) is GA with {min_support_days} days of standard "
        f"support left after {today}: refresh it from {calendar.source}"
    )
