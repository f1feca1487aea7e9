"""The bundled vendor profiles, each loaded end to end from a local stand-in for its vendor."""

import base64
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pytest
import requests

from sources.billing import billing_source, resources
from sources.billing.endpoint_map import bundled_map_names, load_endpoint_map
from sources.billing.errors import BillingAPIError
from sources.billing.redaction import REDACTOR
from sources.billing.vendor_sandbox import VENDORS, VendorSandbox, running_vendor_sandbox

from ..utils import assert_load_info

SIZE = 150  # two pages of 100, five of Paddle's 30
SOURCES = Path(__file__).resolve().parents[2] / "sources"


def run(vendor: str, sandbox: VendorSandbox, api_key: str | None = None) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=f"profile_{vendor}", destination="duckdb", dataset_name=vendor
    )
    source = billing_source(
        base_url=sandbox.url, api_key=api_key or sandbox.api_key, endpoints=vendor
    )
    assert_load_info(pipeline.run(source))
    return pipeline


def tables_by_path(vendor: str) -> dict[str, str]:
    return {
        resource["endpoint"]["path"]: resource["name"]
        for resource in load_endpoint_map(vendor).resources()
    }


def query(pipeline: dlt.Pipeline, sql: str) -> Any:
    with pipeline.sql_client() as client:
        return client.execute_sql(sql)[0][0]


def test_there_is_a_profile_for_every_vendor_sandbox() -> None:
    assert set(VENDORS) <= set(bundled_map_names())


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_profile_loads_every_resource_whole_with_exact_money(vendor: str) -> None:
    with running_vendor_sandbox(vendor, size=SIZE) as sandbox:
        pipeline = run(vendor, sandbox)

    assert_whole_and_exact(vendor, sandbox, pipeline)


@pytest.mark.parametrize("vendor", ["stripe", "paddle", "orb"])
def test_a_profile_loads_the_same_as_records_without_arrow_tables(
    vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "ARROW_INSTALLED", False)
    with running_vendor_sandbox(vendor, size=SIZE) as sandbox:
        pipeline = run(vendor, sandbox)

    assert_whole_and_exact(vendor, sandbox, pipeline)


def assert_whole_and_exact(vendor: str, sandbox: VendorSandbox, pipeline: dlt.Pipeline) -> None:
    """Every record of every resource once, each money field's exact sum, and line items."""
    tables = tables_by_path(vendor)
    for resource in sandbox.shape.resources:
        table = tables[resource.path]
        assert query(pipeline, f"SELECT COUNT(*) FROM {table}") == SIZE, table
        for entry in resource.money:
            field = entry.partition(":")[0]
            column = field.replace(".", "__")
            loaded = query(pipeline, f"SELECT SUM({column}) FROM {table}")
            assert loaded == sandbox.expected_total(resource.path, field), f"{table}.{column}"
            if sandbox.shape.money.startswith("minor"):
                raw = query(pipeline, f"SELECT SUM({column}_minor_units) FROM {table}")
                assert raw == sum(row.minor[field][0] for row in sandbox.rows[resource.path])
        if resource.line_items:
            nested = f"{table}__{resource.line_items.replace('.', '__')}"
            column = resource.line_money.replace(".", "__")
            loaded = query(pipeline, f"SELECT SUM({column}) FROM {nested}")
            assert loaded == sandbox.expected_line_total(resource.path), f"{nested}.{column}"
            if sandbox.shape.money.startswith("minor"):
                raw = query(pipeline, f"SELECT SUM({column}_minor_units) FROM {nested}")
                assert raw == sum(
                    minor for row in sandbox.rows[resource.path] for minor, _ in row.line_minor
                )
            assert query(pipeline, f"SELECT COUNT(*) FROM {nested}") == sandbox.line_items(
                resource.path
            )


def test_minor_units_follow_the_currency_exponent() -> None:
    with running_vendor_sandbox("stripe", size=SIZE) as sandbox:
        pipeline = run("stripe", sandbox)

    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT currency, total, total_minor_units FROM invoices")
    exponents = {"usd": 2, "eur": 2, "gbp": 2, "jpy": 0, "kwd": 3}
    assert {currency for currency, _, _ in rows} == set(exponents)
    for currency, total, minor in rows:
        assert total == Decimal(minor).scaleb(-exponents[currency]), (currency, minor)


# vendor, path, a field the next run must bring, and the parameter that asks for changes
CHANGE_FILTERS = [
    ("chargebee", "/api/v2/invoices", "status", "updated_at[after]"),
    ("recurly", "/invoices", "status", "begin_time"),
    ("paddle", "/transactions", "status", "updated_at[GTE]"),
]


@pytest.mark.parametrize(
    ("vendor", "path", "field", "since"), CHANGE_FILTERS, ids=[c[0] for c in CHANGE_FILTERS]
)
def test_a_later_run_asks_only_for_changes_and_merges_them(
    vendor: str, path: str, field: str, since: str
) -> None:
    with running_vendor_sandbox(vendor, size=SIZE) as sandbox:
        run(vendor, sandbox)
        changed = sandbox.change(path, 7, **{field: "refunded"})
        sandbox.requests.clear()
        pipeline = run(vendor, sandbox)

    table = tables_by_path(vendor)[path]
    asked = [params for request_path, params in sandbox.requests if request_path == path]
    assert asked and all(since in params for params in asked)
    assert len(asked) == 1  # one page of changes, not the whole list again
    assert query(pipeline, f"SELECT COUNT(*) FROM {table}") == SIZE
    key = sandbox.shape.id_field
    where = f"{key} = '{changed[key]}'"
    assert query(pipeline, f"SELECT {field} FROM {table} WHERE {where}") == "refunded"


def test_a_record_deleted_at_chargebee_leaves_the_destination() -> None:
    with running_vendor_sandbox("chargebee", size=SIZE) as sandbox:
        run("chargebee", sandbox)
        deleted = sandbox.change("/api/v2/invoices", 3, deleted=True)
        pipeline = run("chargebee", sandbox)

    assert query(pipeline, "SELECT COUNT(*) FROM invoices") == SIZE - 1
    assert query(pipeline, f"SELECT COUNT(*) FROM invoices WHERE id = '{deleted['id']}'") == 0


@pytest.mark.parametrize("vendor", ["stripe", "chargebee"], ids=["bearer", "http_basic"])
def test_a_wrong_key_fails_naming_the_key_and_never_shows_it(vendor: str) -> None:
    wrong = "sk_wrong_key_4242"
    with running_vendor_sandbox(vendor, size=5) as sandbox, pytest.raises(Exception) as failure:
        run(vendor, sandbox, api_key=wrong)

    message = str(failure.value)
    assert "HTTP 401" in message and "Check the API key" in message
    assert wrong not in message
    assert any(isinstance(error, BillingAPIError) for error in _chain(failure.value))


def _chain(error: BaseException | None) -> list[BaseException]:
    found = []
    while error is not None:
        found.append(error)
        error = error.__cause__ or error.__context__
    return found


def test_the_basic_auth_header_form_of_the_key_is_masked_too() -> None:
    key = "cb_live_key_1234567"
    header = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    billing_source(base_url="https://acme.chargebee.com", api_key=key, endpoints="chargebee")

    assert REDACTOR.redact(f"Authorization: {header}") == "Authorization: Basic ***"


def test_a_vendor_stand_in_runs_from_the_command_line() -> None:
    command = [sys.executable, "-m", "billing.vendor_sandbox", "--vendor", "orb", "--port", "0"]
    server = subprocess.Popen(command, cwd=SOURCES, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        assert url is not None
        answer = requests.get(
            f"{url.group(1)}/v1/invoices?limit=5",
            headers={"Authorization": "Bearer vendor-key"},
            timeout=10,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert answer.status_code == 200
    assert len(answer.json()["data"]) == 5
    assert answer.json()["pagination_metadata"]["has_more"] is True
