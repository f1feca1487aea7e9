"""What dlt 1.31 does on its own where the source adds a piece: each test shows one gap.

If one of these starts failing after a dlt upgrade, dlt closed the gap and the matching
piece of the source may be simpler now.
"""

import itertools
import json
from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa
import pytest
import requests
import requests_mock as rm
from dlt.extract.items import TableNameMeta
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator, OffsetPaginator
from dlt.sources.helpers.rest_client.redaction import sanitize_url
from pytest_mock import MockerFixture

from .conftest import BASE_URL, make_record

URL = f"{BASE_URL}/v1/billing"


def pages(paginator: Any, responses: list[dict[str, Any]]) -> list[list[Any]]:
    with rm.Mocker() as api:
        api.get(URL, responses)
        client = RESTClient(base_url=BASE_URL, paginator=paginator, data_selector="data")
        return [list(page) for page in client.paginate("/v1/billing")]


def test_dlt_offset_paging_raises_without_total() -> None:
    """paging.BillingOffsetPaginator treats `total` as optional."""
    with pytest.raises(ValueError, match="Total `items` not found"):
        pages(OffsetPaginator(limit=2), [{"json": {"data": [make_record(1)]}}])


def test_dlt_offset_paging_reads_on_past_a_short_page() -> None:
    """paging.BillingOffsetPaginator stops on a short page."""
    responses = [
        {"json": {"data": [make_record(1)], "total": 5}},
        {"json": {"data": [make_record(2)], "total": 5}},
        {"json": {"data": [], "total": 5}},
    ]
    assert len(pages(OffsetPaginator(limit=2), responses)) == 3


def test_dlt_reads_a_page_without_its_records_as_an_empty_page() -> None:
    """page_check.PageCheck fails the run instead."""
    assert pages(OffsetPaginator(limit=2), [{"json": {"items": [], "total": 0}}]) == [[]]


def test_dlt_parses_json_numbers_as_floats() -> None:
    """page_check.PageCheck parses fractions as exact Decimals."""
    body = '{"data": [{"id": 1, "amount": 9007199254740993.01}], "total": 1}'
    ((record,),) = pages(OffsetPaginator(limit=2), [{"text": body}])
    assert isinstance(record["amount"], float)
    assert str(record["amount"]) != "9007199254740993.01"


def test_dlt_masks_only_the_parameter_names_it_knows() -> None:
    """redaction.SecretRedactor masks the key by its value, whatever the parameter's name."""
    assert "api_key=***" in sanitize_url(f"{URL}?api_key=s3cr3t-value")
    assert "access_code=s3cr3t-value" in sanitize_url(f"{URL}?access_code=s3cr3t-value")


def test_dlt_connection_errors_carry_the_full_url(mocker: MockerFixture) -> None:
    """retry_policy masks the key in errors that got no answer."""
    mocker.patch("time.sleep")  # dlt's own retries
    with rm.Mocker() as api:
        api.get(URL, exc=requests.exceptions.ConnectionError(f"refused: {URL}?api_key=s3cr3t"))
        with pytest.raises(requests.exceptions.ConnectionError, match="api_key=s3cr3t"):
            RESTClient(base_url=BASE_URL).get("/v1/billing", params={"api_key": "s3cr3t"})


def test_dlt_duckdb_default_file_format_is_insert_statements() -> None:
    """file_format.fastest_file_format asks for parquet or JSON lines instead."""
    from dlt.destinations import duckdb

    assert duckdb().capabilities().preferred_loader_file_format == "insert_values"


def test_dlt_sends_none_params_as_absent() -> None:
    """incremental: the first run's `updated_since` of None is simply not sent."""
    with rm.Mocker() as api:
        api.get(URL, text=json.dumps({"data": [], "total": 0}))
        RESTClient(base_url=BASE_URL).get("/v1/billing", params={"updated_since": None})
    assert "updated_since" not in api.last_request.qs


def test_dlt_starts_a_table_variant_as_a_copy_of_the_root_table_hints() -> None:
    """arrow_pages.PageTables sets the hints of a nested table alone."""

    @dlt.resource(primary_key="id", columns={"amount": {"data_type": "decimal"}})
    def records() -> Iterator[Any]:
        yield []

    resource = records()
    lines = dlt.mark.make_hints(table_name="records__lines", columns=[{"name": "sku"}])
    resource.merge_hints(lines, create_table_variant=True)

    table = resource.compute_table_schema(meta=TableNameMeta("records__lines"))
    assert {"id", "amount", "sku"} <= set(table["columns"])
    assert table["columns"]["id"].get("primary_key") is True


def test_dlt_extract_fails_on_a_nested_table_written_at_extract() -> None:
    """arrow_pages.PageTables names a resource on each nested table until dlt's metrics
    are read, then takes it back."""
    lines = dlt.mark.make_hints(table_name="records__lines", parent_table_name="records")

    @dlt.resource
    def records() -> Iterator[Any]:
        yield pa.table({"id": [1]})
        yield dlt.mark.with_hints(pa.table({"sku": ["a"]}), lines, create_table_variant=True)

    pipeline = dlt.pipeline(pipeline_name="nested_at_extract", destination="duckdb")
    with pytest.raises(PipelineStepFailed) as failure:
        pipeline.extract(records())
    assert isinstance(failure.value.__cause__, KeyError)
    assert failure.value.__cause__.args == ("resource",)


def test_dlt_link_paging_follows_a_link_that_is_there_on_the_last_page() -> None:
    last_page = {"data": [], "meta": {"pagination": {"next": f"{URL}?after=2", "has_more": False}}}
    first_page = {"data": [{"id": 1}, {"id": 2}], "meta": last_page["meta"]}
    paginator = JSONLinkPaginator(next_url_path="meta.pagination.next")
    with rm.Mocker() as api:
        api.get(URL, [{"json": first_page}, {"json": last_page}])
        client = RESTClient(base_url=BASE_URL, paginator=paginator, data_selector="data")
        # as Paddle answers: dlt asks for the same empty page again and again
        read = [list(page) for page in itertools.islice(client.paginate("/v1/billing"), 5)]
    assert read == [[{"id": 1}, {"id": 2}], [], [], [], []]
