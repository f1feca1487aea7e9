"""Offset paging: stops on `total`, on a short page, on an empty page and on `has_more`."""

from typing import Any

import pytest
import requests_mock as rm

from sources.billing import billing_source

from .conftest import API_KEY, BASE_URL, FakeBillingAPI, make_record


def read_ids() -> list[int]:
    source = billing_source(base_url=BASE_URL, api_key=API_KEY)
    return [record["id"] for record in source.resources["billing_records"]]


def test_paging_stops_when_total_is_reached(billing_api: tuple[rm.Mocker, FakeBillingAPI]) -> None:
    _, api = billing_api

    assert read_ids() == list(range(1, 251))
    # each page after the first starts on the last record read, to catch shifting data
    assert api.pages == [(0, 100), (99, 100), (198, 100)]


def test_total_reached_on_a_full_page_ends_paging(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    _, api = billing_api
    api.records = api.records[:199]

    assert read_ids() == list(range(1, 200))
    assert api.pages == [(0, 100), (99, 100)]


def test_without_total_a_short_page_ends_paging(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    _, api = billing_api
    api.include_total = False

    assert read_ids() == list(range(1, 251))
    assert api.pages == [(0, 100), (99, 100), (198, 100)]


def test_without_total_an_empty_page_ends_paging(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    _, api = billing_api
    api.include_total = False
    api.records = api.records[:199]

    assert read_ids() == list(range(1, 200))
    assert api.pages == [(0, 100), (99, 100), (198, 100)]


def test_an_empty_api_loads_nothing_in_one_request(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    _, api = billing_api
    api.records = []

    assert read_ids() == []
    assert api.pages == [(0, 100)]


def test_without_a_primary_key_pages_do_not_overlap(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    from .conftest import fast_retry_map

    _, api = billing_api
    endpoint_map = fast_retry_map()
    endpoint_map["resource_defaults"] = {"write_disposition": "append"}
    del endpoint_map["resources"][0]["soft_delete"]
    source = billing_source(base_url=BASE_URL, api_key=API_KEY, endpoints=endpoint_map)

    assert len(list(source.resources["billing_records"])) == 250
    assert api.pages == [(0, 100), (100, 100), (200, 100)]


def _with_has_more(endpoint_map: dict[str, Any]) -> dict[str, Any]:
    paginator = endpoint_map["resources"][0]["endpoint"]["paginator"]
    paginator.pop("total_path")
    paginator["has_more_path"] = "has_more"
    return endpoint_map


def test_has_more_false_ends_paging_even_after_a_full_page(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    from .conftest import fast_retry_map

    _, api = billing_api
    api.include_total, api.has_more = False, True
    api.records = api.records[:199]
    endpoint_map = _with_has_more(fast_retry_map())
    source = billing_source(base_url=BASE_URL, api_key=API_KEY, endpoints=endpoint_map)

    assert len(list(source.resources["billing_records"])) == 199
    assert api.pages == [(0, 100), (99, 100)]


@pytest.mark.parametrize("total", ["not a number", 12.5, True])
def test_a_total_that_is_not_a_count_fails_clearly(total: Any) -> None:
    with rm.Mocker() as mocker:
        mocker.get(f"{BASE_URL}/v1/billing", json={"data": [make_record(1)], "total": total})

        with pytest.raises(Exception, match="`total` in the body is not a record count"):
            read_ids()
