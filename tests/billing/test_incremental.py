"""Incremental loading against the sandbox: what each run asks for, loads, updates and deletes."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import dlt
import requests_mock as rm

from sources.billing import billing_source
from sources.billing.sandbox import SandboxAPI, running_sandbox

from ..utils import assert_load_info, load_table_counts
from .conftest import API_KEY, BASE_URL, make_record

LOOKBACK = timedelta(seconds=300)


def make_pipeline(name: str = "incremental") -> dlt.Pipeline:
    return dlt.pipeline(pipeline_name=name, destination="duckdb", dataset_name="billing_data")


def run(pipeline: dlt.Pipeline, api: SandboxAPI, **source_args: Any) -> list[dict[str, str]]:
    """Loads once and returns the query parameters of the requests that load made."""
    before = len(api.requests)
    assert_load_info(
        pipeline.run(billing_source(base_url=api.url, api_key=api.api_key, **source_args))
    )
    return [request.params for request in api.requests[before:]]


def cursor_state(pipeline: dlt.Pipeline) -> Any:
    resource = pipeline.state["sources"]["billing"]["resources"]["billing_records"]
    return resource["incremental"]["updated_at"]["last_value"]


def parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def rows(pipeline: dlt.Pipeline, sql: str) -> list[Any]:
    with pipeline.sql_client() as client:
        return list(client.execute_sql(sql) or [])


def test_first_run_sends_no_filter_and_loads_everything(sandbox: SandboxAPI) -> None:
    pipeline = make_pipeline()

    requests = run(pipeline, sandbox)

    assert all("updated_since" not in params for params in requests)
    assert len(requests) == 3
    assert load_table_counts(pipeline, "billing_records") == {"billing_records": 250}
    assert cursor_state(pipeline) == max(record["updated_at"] for record in sandbox.records)


def test_rerun_on_unchanged_data_costs_one_page_from_last_value_minus_lookback(
    sandbox: SandboxAPI,
) -> None:
    pipeline = make_pipeline()
    run(pipeline, sandbox)
    newest = max(parse(record["updated_at"]) for record in sandbox.records)

    requests = run(pipeline, sandbox)

    assert len(requests) == 1
    assert parse(requests[0]["updated_since"]) == newest - LOOKBACK
    assert rows(pipeline, "SELECT COUNT(*), COUNT(DISTINCT id) FROM billing_records") == [
        (250, 250)
    ]


def test_changed_records_are_updated_in_place(sandbox: SandboxAPI) -> None:
    pipeline = make_pipeline()
    run(pipeline, sandbox)
    for record_id in (3, 40, 200):
        sandbox.update(record_id, amount="12.34", status="void")

    requests = run(pipeline, sandbox)

    assert len(requests) == 1
    changed = rows(pipeline, "SELECT id, amount, status FROM billing_records WHERE status = 'void'")
    assert {(row[0], str(row[1]).rstrip("0"), row[2]) for row in changed} >= {
        (3, "12.34", "void"),
        (40, "12.34", "void"),
        (200, "12.34", "void"),
    }
    assert load_table_counts(pipeline, "billing_records") == {"billing_records": 250}


def test_soft_deleted_records_leave_the_destination_with_their_line_items(
    sandbox: SandboxAPI,
) -> None:
    pipeline = make_pipeline()
    run(pipeline, sandbox)
    items_of_7 = len(next(r for r in sandbox.records if r["id"] == 7)["line_items"])
    items_before = load_table_counts(pipeline, "billing_records__line_items")

    sandbox.mark_deleted(7)
    sandbox.mark_deleted(8)
    run(pipeline, sandbox)

    assert rows(pipeline, "SELECT id FROM billing_records WHERE id IN (7, 8)") == []
    assert load_table_counts(pipeline, "billing_records") == {"billing_records": 248}
    items_of_8 = len(next(r for r in sandbox.records if r["id"] == 8)["line_items"])
    assert load_table_counts(pipeline, "billing_records__line_items") == {
        "billing_records__line_items": items_before["billing_records__line_items"]
        - items_of_7
        - items_of_8
    }


def test_a_backfill_window_loads_exactly_its_records_and_keeps_the_state(
    sandbox: SandboxAPI,
) -> None:
    pipeline = make_pipeline()
    run(pipeline, sandbox)
    state_before = cursor_state(pipeline)
    stamps = sorted(record["updated_at"] for record in sandbox.records)
    start, end = stamps[50], stamps[120]
    expected = {r["id"] for r in sandbox.records if start <= r["updated_at"] < end}

    backfill = make_pipeline("backfill")
    requests = run(backfill, sandbox, start_date=start, end_date=parse(end))

    assert requests[0]["updated_since"] == start
    loaded = {row[0] for row in rows(backfill, "SELECT id FROM billing_records")}
    assert loaded == expected

    run(pipeline, sandbox, start_date=start, end_date=end)
    assert cursor_state(pipeline) == state_before


def test_a_record_without_the_cursor_is_loaded_and_an_api_ignoring_the_filter_still_works() -> None:
    records = [make_record(i, updated_at=f"2025-01-0{i}T00:00:00Z") for i in range(1, 6)]
    records.append(make_record(6))  # no updated_at at all
    pipeline = make_pipeline()
    with rm.Mocker() as api:
        api.get(f"{BASE_URL}/v1/billing", json={"data": records, "total": len(records)})
        pipeline.run(billing_source(base_url=BASE_URL, api_key=API_KEY))
        records[0] = make_record(1, amount="77.00", updated_at="2025-01-09T00:00:00Z")
        pipeline.run(billing_source(base_url=BASE_URL, api_key=API_KEY))

    assert "updated_since" in api.last_request.qs
    loaded = dict(rows(pipeline, "SELECT id, amount FROM billing_records"))
    assert sorted(loaded) == [1, 2, 3, 4, 5, 6]
    assert loaded[1] == Decimal("77.00")


def test_inserts_and_deletes_at_the_head_mid_run_leave_no_gap(dlt_warnings: list[str]) -> None:
    warnings = dlt_warnings
    with running_sandbox(size=450) as api:
        ids_throughout = {record["id"] for record in api.records[3:]}
        api.on_request(2, lambda sandbox: sandbox.delete_at_head(3))
        api.on_request(3, lambda sandbox: sandbox.insert_at_head(4))
        api.on_request(4, lambda sandbox: sandbox.delete_at_head(2))
        pipeline = make_pipeline()

        run(pipeline, api)

    loaded = {row[0] for row in rows(pipeline, "SELECT id FROM billing_records")}
    assert ids_throughout <= loaded
    assert any("records moved ahead of this page" in w for w in warnings)


def test_records_updated_mid_run_move_to_the_end_without_a_gap(sandbox: SandboxAPI) -> None:
    pipeline = make_pipeline()
    run(pipeline, sandbox)
    for record_id in range(1, 251):  # every record changes, so the next run reads every page
        sandbox.update(record_id, description="second version")
    sandbox.on_request(len(sandbox.requests) + 2, lambda api: api.update(5, status="void"))

    run(pipeline, sandbox)

    second = "SELECT COUNT(*) FROM billing_records WHERE description = 'second version'"
    assert rows(pipeline, second) == [(250,)]
    run(pipeline, sandbox)  # the page read ahead may have gone out before 5 changed again
    assert rows(pipeline, "SELECT status FROM billing_records WHERE id = 5") == [("void",)]
