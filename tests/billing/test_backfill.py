"""Backfill windows: their bounds, their validation, and windows loaded side by side."""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dlt
import pytest

from sources.billing import EndpointMapError, backfill_windows, billing_source
from sources.billing.endpoint_map import load_endpoint_map
from sources.billing.incremental import BackfillWindow, cursor_bound
from sources.billing.sandbox import running_sandbox

from .conftest import API_KEY, BASE_URL, fast_retry_map


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T00:00:00Z",
        "2024-05-01T02:00:00+02:00",
        "2024-04-30T19:00:00-05:00",
        "2024-05-01",
        date(2024, 5, 1),
        datetime(2024, 5, 1),
        datetime(2024, 5, 1, 9, tzinfo=timezone(timedelta(hours=9))),
    ],
)
def test_cursor_bounds_are_written_in_utc_as_the_api_writes_cursors(value: Any) -> None:
    assert cursor_bound(value) == "2024-05-01T00:00:00Z"


@pytest.mark.parametrize(
    "start,end,problem",
    [
        (None, "2024-02-01", "start_date and end_date come together"),
        ("2024-01-01", None, "start_date and end_date come together"),
        ("2024-02-01", "2024-01-01", "is not after start_date"),
        ("last tuesday", "2024-01-01", "is not an ISO-8601 date or time"),
        (20240101, "2024-02-01", "is not a date or time"),
    ],
)
def test_a_bad_window_fails_before_any_request(start: Any, end: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        billing_source(base_url=BASE_URL, api_key=API_KEY, start_date=start, end_date=end)


def test_windows_cover_the_range_exactly_once() -> None:
    windows = backfill_windows("2024-01-01", "2024-03-15", days=30)

    assert windows == [
        ("2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z"),
        ("2024-01-31T00:00:00Z", "2024-03-01T00:00:00Z"),
        ("2024-03-01T00:00:00Z", "2024-03-15T00:00:00Z"),
    ]
    assert BackfillWindow.between(*windows[0]) == BackfillWindow(*windows[0])


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"lookback": -5}, "resources[0].endpoint.incremental.lookback: expected >= 0"),
        ({"row_order": "newest"}, "expected one of asc, desc"),
        ({"cursor_path": None}, "resources[0].endpoint.incremental.cursor_path: expected a string"),
    ],
)
def test_bad_incremental_settings_are_rejected(change: dict[str, Any], problem: str) -> None:
    endpoint_map = fast_retry_map()
    endpoint_map["resources"][0]["endpoint"]["incremental"].update(change)

    with pytest.raises(EndpointMapError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_endpoint_map(endpoint_map)


def test_soft_delete_needs_merge() -> None:
    endpoint_map = fast_retry_map()
    endpoint_map["resource_defaults"]["write_disposition"] = "append"

    with pytest.raises(EndpointMapError, match="soft_delete: needs write_disposition: merge"):
        load_endpoint_map(endpoint_map)


def load_window(base_url: str, api_key: str, window: tuple[str, str], folder: str) -> list[int]:
    """One backfill window in its own process, pipeline and database, as the README shows."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    name = f"billing_backfill_{window[0][:10]}"
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(Path(folder) / "pipelines"),
        destination=dlt.destinations.duckdb(str(Path(folder) / f"{name}.duckdb")),
        dataset_name="billing_data",
    )
    pipeline.run(
        billing_source(base_url=base_url, api_key=api_key, start_date=window[0], end_date=window[1])
    )
    with pipeline.sql_client() as client:
        return [row[0] for row in client.execute_sql("SELECT id FROM billing_records")]


def test_windows_loaded_side_by_side_hold_every_record_once(tmp_path: Path) -> None:
    with running_sandbox(size=300) as api:
        stamps = sorted(record["updated_at"] for record in api.records)
        after_last = datetime.fromisoformat(stamps[-1].replace("Z", "+00:00")) + timedelta(
            seconds=1
        )
        windows = backfill_windows(stamps[0], after_last, days=120)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
            loads = list(
                pool.map(
                    load_window,
                    [api.url] * len(windows),
                    [api.api_key] * len(windows),
                    windows,
                    [str(tmp_path)] * len(windows),
                )
            )

    assert len(windows) >= 3
    loaded = [record_id for window_ids in loads for record_id in window_ids]
    assert sorted(loaded) == sorted(record["id"] for record in api.records)
