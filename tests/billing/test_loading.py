"""Loads from the sandbox API over 127.0.0.1 into real destinations: rows, types, merge."""

from datetime import date
from decimal import Decimal

import dlt
import pytest

from sources.billing import billing_source
from sources.billing.sandbox import SandboxAPI, running_sandbox

from ..utils import ALL_DESTINATIONS, assert_load_info, load_table_counts, stored_column_types


def make_pipeline(destination: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="billing_test",
        destination=destination,
        dataset_name="billing_data",
        dev_mode=True,
    )


def load(pipeline: dlt.Pipeline, api: SandboxAPI) -> None:
    assert_load_info(pipeline.run(billing_source(base_url=api.url, api_key=api.api_key)))


def column_types(pipeline: dlt.Pipeline) -> dict[str, tuple[str, bool]]:
    columns = pipeline.default_schema.get_table_columns("billing_records")
    return {
        name: (column["data_type"], column.get("nullable", True))
        for name, column in columns.items()
    }


@pytest.mark.parametrize("destination", ALL_DESTINATIONS)
def test_sandbox_loads_every_record_with_exact_amounts_and_dates(
    destination: str, sandbox: SandboxAPI
) -> None:
    pipeline = make_pipeline(destination)

    load(pipeline, sandbox)

    line_items = sum(len(record["line_items"]) for record in sandbox.records)
    assert load_table_counts(pipeline, "billing_records", "billing_records__line_items") == {
        "billing_records": len(sandbox.records),
        "billing_records__line_items": line_items,
    }
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT id, amount, date, customer_id FROM billing_records ORDER BY id"
        )
    loaded = {row[0]: row[1:] for row in rows}
    for record in sandbox.records:
        amount, day, customer = loaded[record["id"]]
        assert Decimal(amount) == Decimal(record["amount"]), record["id"]
        assert day == date.fromisoformat(record["date"][:10]), record["id"]
        assert customer == record["customer_id"]


@pytest.mark.parametrize("destination", ALL_DESTINATIONS)
def test_columns_get_the_types_the_map_declares(destination: str, sandbox: SandboxAPI) -> None:
    pipeline = make_pipeline(destination)

    load(pipeline, sandbox)

    types = column_types(pipeline)
    assert types["id"] == ("bigint", False)
    assert types["amount"] == ("decimal", True)
    assert types["date"] == ("date", True)
    assert types["customer_id"] == ("text", True)
    amount = pipeline.default_schema.get_table_columns("billing_records")["amount"]
    assert (amount["precision"], amount["scale"]) == (38, 9)


@pytest.mark.parametrize("destination", ALL_DESTINATIONS)
def test_tables_hold_bigint_exact_decimal_and_date_on_every_destination(
    destination: str, sandbox: SandboxAPI
) -> None:
    pipeline = make_pipeline(destination)

    load(pipeline, sandbox)

    types = stored_column_types(pipeline)
    assert types["id"] == "bigint"
    assert types["amount"] == "decimal(38,9)"
    assert types["date"] == "date"
    assert types["customer_id"] == "text"


def test_amounts_sent_as_json_numbers_load_exactly() -> None:
    with running_sandbox(size=60, seed=3, amount_as="number") as api:
        pipeline = make_pipeline("duckdb")
        load(pipeline, api)
        expected = {record["id"]: Decimal(record["amount"]) for record in api.records}

    with pipeline.sql_client() as client:
        loaded = dict(client.execute_sql("SELECT id, amount FROM billing_records"))
    assert loaded == expected
    assert loaded[5] == Decimal("9007199254740993.01")


# dlt merges on the filesystem only into delta or iceberg tables; plain files are appended
@pytest.mark.parametrize("destination", [d for d in ALL_DESTINATIONS if d != "filesystem"])
def test_second_run_loads_no_duplicate_and_updates_changed_records(
    destination: str, sandbox: SandboxAPI
) -> None:
    pipeline = make_pipeline(destination)
    load(pipeline, sandbox)

    sandbox.update(1, amount="4242.42", status="void")
    load(pipeline, sandbox)

    assert load_table_counts(pipeline, "billing_records")["billing_records"] == len(sandbox.records)
    with pipeline.sql_client() as client:
        first = client.execute_sql("SELECT amount, status FROM billing_records WHERE id = 1")
        ids = client.execute_sql("SELECT COUNT(DISTINCT id) FROM billing_records")
    assert [(Decimal(amount), status) for amount, status in first] == [(Decimal("4242.42"), "void")]
    assert ids[0][0] == len(sandbox.records)
