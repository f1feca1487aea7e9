"""Incremental loading from the endpoint map: lookback, backfill windows and their bounds."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .map_schema import IncrementalSpec

DEFAULT_LOOKBACK_SECONDS = 300.0
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class BackfillWindow:
    """Records whose cursor lies in `[start, end)`, read without touching incremental state."""

    start: str
    end: str

    @classmethod
    def between(cls, start: Any, end: Any) -> "BackfillWindow | None":
        """The window from `billing_source(start_date=..., end_date=...)`, or None for neither."""
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise ValueError("start_date and end_date come together: a backfill window has both")
        window = cls(cursor_bound(start), cursor_bound(end))
        if window.end <= window.start:
            raise ValueError(f"end_date {window.end} is not after start_date {window.start}")
        return window


def _as_utc(value: Any) -> datetime:
    moment: datetime
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 date or time") from None
    else:
        raise ValueError(f"{value!r} is not a date or time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def cursor_bound(value: Any) -> str:
    """Writes a date, a datetime or an ISO-8601 string as a UTC cursor value.

    Cursor values are compared as the API writes them (`2024-05-01T00:00:00Z`), so every
    bound is written the same way. A date means its midnight in UTC; a naive datetime is UTC.
    """
    return _as_utc(value).strftime(CURSOR_FORMAT)


def backfill_windows(start: Any, end: Any, days: int) -> list[tuple[str, str]]:
    """Splits `[start, end)` into windows of `days` days, to load side by side."""
    if days < 1:
        raise ValueError("a backfill window spans at least one day")
    low, last = _as_utc(start), _as_utc(end)
    windows = []
    while low < last:
        high = min(low + timedelta(days=days), last)
        windows.append((low.strftime(CURSOR_FORMAT), high.strftime(CURSOR_FORMAT)))
        low = high
    return windows


def incremental_config(spec: IncrementalSpec, window: BackfillWindow | None) -> dict[str, Any]:
    """dlt's rest_api `incremental` settings for one endpoint.

    A record without the cursor field is loaded, never dropped. Within a backfill window
    the start and end come from the window and dlt keeps the incremental state as it was.
    With `cursor_format: unix` every bound is written in seconds since 1970.
    """
    unix = spec.get("cursor_format") == "unix"
    bound = unix_seconds if unix else (lambda value: value)
    initial_value = spec.get("initial_value")
    config: dict[str, Any] = {
        "cursor_path": spec["cursor_path"],
        "initial_value": None if initial_value is None else bound(initial_value),
        "lag": spec.get("lookback", DEFAULT_LOOKBACK_SECONDS),
        "on_cursor_value_missing": "include",
    }
    if "start_param" in spec:
        config["start_param"] = spec["start_param"]
    if "row_order" in spec:
        config["row_order"] = spec["row_order"]
    if window is not None:
        config["initial_value"] = bound(window.start)
        config["end_value"] = bound(window.end)
    return config


def unix_seconds(value: Any) -> int:
    """A date, a datetime or an ISO-8601 string as seconds since 1970 in UTC, the form of
    cursors such as Stripe's `created` and Chargebee's `updated_at`."""
    return int(_as_utc(value).timestamp())
