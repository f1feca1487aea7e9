"""Bad pages fail the run loudly, naming resource, offset and problem; loaded data stays."""

from typing import Any

import dlt
import pytest
import requests_mock as rm

from sources.billing import BillingDataError, billing_source
from sources.billing.sandbox import Fault, SandboxAPI

from ..utils import load_table_counts, raised
from .conftest import API_KEY, BASE_URL, make_record

URL = f"{BASE_URL}/v1/billing"


def full_page(offset: int) -> dict[str, Any]:
    return {
        "json": {"data": [make_record(i) for i in range(offset + 1, offset + 101)], "total": 300}
    }


def read_failure(second_page: dict[str, Any]) -> BillingDataError:
    with rm.Mocker() as api:
        api.get(URL, [full_page(0), second_page])
        source = billing_source(base_url=BASE_URL, api_key=API_KEY)
        with pytest.raises(Exception) as error:
            list(source.resources["billing_records"])
    return raised(error.value, BillingDataError)


def test_page_without_data_fails_naming_resource_offset_and_key() -> None:
    error = read_failure({"json": {"items": [], "total": 300}})

    assert str(error) == "billing_records, offset 99: the body has no `data`"


def test_body_that_is_not_json_fails_naming_resource_and_offset() -> None:
    error = read_failure({"text": "<html>Service maintenance</html>"})

    assert str(error) == (
        "billing_records, offset 99: the body is not JSON"
        " (it starts with '<html>Service maintenance</html>')"
    )


@pytest.mark.parametrize(
    "record", [{"customer_id": "c1"}, {"id": None, "customer_id": "c1"}, "not a record"]
)
def test_record_without_id_fails_naming_its_place(record: Any) -> None:
    error = read_failure({"json": {"data": [make_record(101), record], "total": 300}})

    assert str(error) == "billing_records, offset 99: record 1 on the page has no `id`"


@pytest.mark.parametrize("amount", ["12.345.6", "1.0000000001", "NaN", True])
def test_amount_that_is_not_exact_money_fails_naming_the_record(amount: Any) -> None:
    with rm.Mocker() as api:
        api.get(URL, json={"data": [make_record(7, amount=amount)], "total": 1})
        source = billing_source(base_url=BASE_URL, api_key=API_KEY)

        with pytest.raises(Exception, match=r"billing_records, id=7: `amount`: "):
            list(source.resources["billing_records"])


@pytest.mark.parametrize(
    "fault,problem",
    [
        (Fault("no_data", offset=99), "billing_records, offset 99: the body has no `data`"),
        (Fault("not_json", offset=198), "billing_records, offset 198: the body is not JSON"),
    ],
)
def test_a_failed_run_loads_nothing_partial_and_keeps_what_was_loaded(
    sandbox: SandboxAPI, fault: Fault, problem: str
) -> None:
    pipeline = dlt.pipeline(pipeline_name="bad_data", destination="duckdb", dataset_name="billing")
    pipeline.run(billing_source(base_url=sandbox.url, api_key=sandbox.api_key))
    loads_before = load_table_counts(pipeline, "_dlt_loads")

    for record_id in range(1, 251):  # every record changes, so the next run reads every page
        sandbox.update(record_id, amount="1.00")
    sandbox.add_fault(fault)
    with pytest.raises(Exception) as error:
        pipeline.run(billing_source(base_url=sandbox.url, api_key=sandbox.api_key))

    assert problem in str(error.value)
    assert load_table_counts(pipeline, "billing_records", "_dlt_loads") == {
        "billing_records": len(sandbox.records),
        **loads_before,
    }
    with pipeline.sql_client() as client:
        changed = client.execute_sql("SELECT COUNT(*) FROM billing_records WHERE amount = 1")
    assert changed[0][0] == 0  # not one record of the failed run was loaded


def test_the_run_after_a_failed_one_loads_normally(sandbox: SandboxAPI) -> None:
    pipeline = dlt.pipeline(pipeline_name="bad_data", destination="duckdb", dataset_name="billing")
    sandbox.add_fault(Fault("no_data", offset=99))
    with pytest.raises(Exception, match="the body has no `data`"):
        pipeline.run(billing_source(base_url=sandbox.url, api_key=sandbox.api_key))

    pipeline.run(billing_source(base_url=sandbox.url, api_key=sandbox.api_key))

    assert load_table_counts(pipeline, "billing_records") == {
        "billing_records": len(sandbox.records)
    }
