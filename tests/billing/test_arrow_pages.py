"""Records reach dlt as arrow tables; what loads must be what dlt's own normalizer loads."""

import json
import logging
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import dlt
import pytest
import requests_mock as rm

from sources.billing import billing_source, resources
from sources.billing.arrow_pages import PageBatches
from sources.billing.sandbox import SandboxAPI

from .conftest import API_KEY, BASE_URL, FakeBillingAPI, make_record

SYSTEM_IDS = ("_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_load_id")


def load(name: str, arrow: bool, url: str, api_key: str = API_KEY) -> dlt.Pipeline:
    """Loads every resource into DuckDB, as arrow tables or as records."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resources, "ARROW_INSTALLED", arrow)
        pipeline = dlt.pipeline(pipeline_name=name, destination="duckdb", dataset_name="billing")
        pipeline.run(billing_source(base_url=url, api_key=api_key))
    return pipeline


def columns(pipeline: dlt.Pipeline) -> dict[str, dict[str, str | None]]:
    """Each data table's columns and their types, as the schema holds them."""
    return {
        name: {column: spec.get("data_type") for column, spec in table["columns"].items()}
        for table in pipeline.default_schema.data_tables()
        for name in (table["name"],)
    }


def rows(pipeline: dlt.Pipeline, table: str) -> list[tuple[Any, ...]]:
    """A table's rows with the root record's id for random row keys, in a stable order."""
    types = columns(pipeline)[table]
    names = sorted(name for name, kind in types.items() if kind and name not in SYSTEM_IDS)
    selected = ", ".join(f"t.{name}" for name in names)
    if table == "billing_records":
        query = f"SELECT {selected} FROM billing_records t"
    else:
        query = (
            f"SELECT r.id, {selected} FROM {table} t"
            " JOIN billing_records r ON r._dlt_id = t._dlt_root_id"
        )
    with pipeline.sql_client() as client:
        return sorted(client.execute_sql(query), key=repr)


def same_load(first: dlt.Pipeline, second: dlt.Pipeline) -> None:
    assert columns(first) == columns(second)
    for table in columns(first):
        assert rows(first, table) == rows(second, table), table


def test_the_sandbox_loads_the_same_as_arrow_tables_and_as_records(sandbox: SandboxAPI) -> None:
    as_arrow = load("as_arrow", True, sandbox.url, sandbox.api_key)
    as_records = load("as_records", False, sandbox.url, sandbox.api_key)

    formats = {
        job.job_file_info.file_format
        for job in as_arrow.last_trace.last_normalize_info.load_packages[0].jobs["new_jobs"]
        if job.job_file_info.table_name.startswith("billing_records")
    }
    assert formats == {"parquet"}
    assert set(columns(as_arrow)) == {"billing_records", "billing_records__line_items"}
    same_load(as_arrow, as_records)


@pytest.fixture
def nested_api() -> Iterator[FakeBillingAPI]:
    """Records with nested objects, lists of values, lists inside listed objects and inside
    objects."""
    records = [
        make_record(
            record_id,
            billing_address={"city": f"City {record_id}", "geo": {"zip": f"{record_id:05d}"}},
            tags=["vip", "eu"][: record_id % 3],
            lines=[
                {"sku": f"sku_{n}", "taxes": [{"rate": Decimal("0.2"), "kind": "vat"}][: n % 2]}
                for n in range(record_id % 4)
            ],
            paid_at="2024-05-02T10:11:12Z",
            note=None,
            refunds={"has_more": False, "data": [{"amount": "1.50"}][: record_id % 2]},
        )
        for record_id in range(1, 121)
    ]
    fake = FakeBillingAPI(records)
    with rm.Mocker() as mocker:
        mocker.get(f"{BASE_URL}/v1/billing", text=fake.respond)
        yield fake


def test_nested_objects_and_lists_split_as_dlt_splits_them(nested_api: FakeBillingAPI) -> None:
    as_arrow = load("nested_arrow", True, BASE_URL)
    as_records = load("nested_records", False, BASE_URL)

    tables = columns(as_arrow)
    assert set(tables) == {
        "billing_records",
        "billing_records__tags",
        "billing_records__lines",
        "billing_records__lines__taxes",
        "billing_records__refunds__data",  # a list in an object, as Stripe nests lists
    }
    assert tables["billing_records"]["billing_address__geo__zip"] == "text"
    assert tables["billing_records"]["paid_at"] == "timestamp"
    assert as_arrow.default_schema.tables["billing_records__lines__taxes"]["parent"] == (
        "billing_records__lines"
    )
    same_load(as_arrow, as_records)


def test_a_batch_that_is_not_one_type_per_field_goes_through_dlt_normalizer(
    billing_api: tuple[rm.Mocker, FakeBillingAPI], caplog: pytest.LogCaptureFixture
) -> None:
    _, api = billing_api
    api.records[10]["customer_id"] = 12345  # text everywhere else

    with caplog.at_level(logging.INFO, logger="dlt"):
        as_arrow = load("mixed_arrow", True, BASE_URL)
    as_records = load("mixed_records", False, BASE_URL)

    assert any("goes through dlt's normalizer" in message for message in caplog.messages)
    same_load(as_arrow, as_records)


def test_a_resource_read_outside_a_pipeline_yields_converted_records(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    records = list(billing_source(base_url=BASE_URL, api_key=API_KEY).resources["billing_records"])

    assert len(records) == 250
    assert records[0]["amount"] == Decimal("1.25")
    assert records[0]["date"] == date(2024, 5, 1)


def test_nested_tables_keep_no_resource_once_a_run_is_over(sandbox: SandboxAPI) -> None:
    pipeline = load("no_resource", True, sandbox.url, sandbox.api_key)
    pipeline.run(billing_source(base_url=sandbox.url, api_key=sandbox.api_key))

    line_items = pipeline.default_schema.tables["billing_records__line_items"]
    assert "resource" not in line_items
    assert line_items["parent"] == "billing_records"
    assert len(pipeline.list_completed_load_packages()) == 2


def page(records: list[Any], has_next_page: bool) -> list[Any]:
    """A page as dlt's REST client yields it: a list that carries its paginator."""

    class Page(list):  # type: ignore[type-arg]
        paginator = SimpleNamespace(has_next_page=has_next_page)

    return Page(records)


def test_pages_are_batched_and_the_last_page_ends_the_batch() -> None:
    batches = PageBatches(size=5)

    assert batches(page([1, 2], True)) is None
    assert batches(page([3, 4], True)) is None
    assert batches(page([5], True)) == [1, 2, 3, 4, 5]
    assert batches(page([6], True)) is None
    assert batches(page([], False)) == [6]  # an empty last page still ends the batch
    assert batches([7, 8]) == [7, 8]  # a list without a paginator is passed on as it is


# JSON numbers, some whole, some with a fraction; strings with spaces and signs; a date
# with a time and an offset: each goes the fast column-wise way or the value-by-value one
AMOUNTS = ["7", "-3", "12.5", "0.000000001", "99999999999999999999.99", "1.10"]
RAW_AMOUNTS = [" 4.20 ", "+8", ".5", "1e2", "2.50000"]


@pytest.mark.parametrize("raw", [True, False], ids=["json_numbers", "strings"])
def test_amounts_and_dates_load_as_the_records_path_loads_them(raw: bool) -> None:
    amounts = AMOUNTS if raw else AMOUNTS + RAW_AMOUNTS
    records = [
        make_record(index + 1, amount=amount, date="2024-02-29T23:30:00-05:00")
        for index, amount in enumerate(amounts)
    ]
    body = json.dumps({"data": records, "total": len(records)})
    if raw:  # the amounts as JSON numbers, not strings
        body = re.sub(r'"amount": "([^"]+)"', r'"amount": \1', body)

    with rm.Mocker() as mocker:
        mocker.get(f"{BASE_URL}/v1/billing", text=body)
        as_arrow = load(f"amounts_arrow_{raw}", True, BASE_URL)
        as_records = load(f"amounts_records_{raw}", False, BASE_URL)

    same_load(as_arrow, as_records)
    with as_arrow.sql_client() as client:
        loaded = dict(client.execute_sql("SELECT id, amount FROM billing_records"))
        dates = {row[0] for row in client.execute_sql("SELECT date FROM billing_records")}
    assert [loaded[index + 1] for index in range(len(amounts))] == [
        Decimal(amount.strip()) for amount in amounts
    ]
    assert dates == {date(2024, 2, 29)}


@pytest.mark.parametrize("amount", ['"1.0000000000"', "1.0000000000", '"12,5"'])
def test_an_amount_the_column_cannot_hold_names_its_record(amount: str) -> None:
    records = [make_record(record_id) for record_id in (1, 2, 3)]
    body = json.dumps({"data": records, "total": 3}).replace('"2.25"', amount)

    with rm.Mocker() as mocker, pytest.raises(Exception, match=r"id=2: `amount`") as failure:
        mocker.get(f"{BASE_URL}/v1/billing", text=body)
        load("unholdable_amount", True, BASE_URL)
    assert "decimal places" in str(failure.value) or "is not an amount" in str(failure.value)
