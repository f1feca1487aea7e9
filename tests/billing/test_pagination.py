"""Offset paging: stops on `total`, a short or empty page, or `has_more`; reads pages ahead."""

import threading
from typing import Any

import pytest
import requests_mock as rm

from sources.billing import billing_source
from sources.billing.retry_policy import RetryPolicy
from sources.billing.sandbox import running_sandbox

from .conftest import API_KEY, BASE_URL, FakeBillingAPI, make_record, one_page_at_a_time


def read_ids(endpoints: Any = None) -> list[int]:
    """Reads every record; one page at a time unless another map is given."""
    endpoint_map = endpoints if endpoints is not None else one_page_at_a_time()
    source = billing_source(base_url=BASE_URL, api_key=API_KEY, endpoints=endpoint_map)
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

    _, api = billing_api
    endpoint_map = one_page_at_a_time()
    endpoint_map["resource_defaults"] = {"write_disposition": "append"}
    del endpoint_map["resources"][0]["soft_delete"]

    assert len(read_ids(endpoint_map)) == 250
    assert api.pages == [(0, 100), (100, 100), (200, 100)]


def _with_has_more(endpoint_map: dict[str, Any]) -> dict[str, Any]:
    paginator = endpoint_map["resources"][0]["endpoint"]["paginator"]
    paginator.pop("total_path")
    paginator["has_more_path"] = "has_more"
    return endpoint_map


def test_has_more_false_ends_paging_even_after_a_full_page(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:

    _, api = billing_api
    api.include_total, api.has_more = False, True
    api.records = api.records[:199]
    endpoint_map = _with_has_more(one_page_at_a_time())

    assert len(read_ids(endpoint_map)) == 199
    assert api.pages == [(0, 100), (99, 100)]


@pytest.mark.parametrize("total", ["not a number", 12.5, True])
def test_a_total_that_is_not_a_count_fails_clearly(total: Any) -> None:
    with rm.Mocker() as mocker:
        mocker.get(f"{BASE_URL}/v1/billing", json={"data": [make_record(1)], "total": total})

        with pytest.raises(Exception, match="`total` in the body is not a record count"):
            read_ids()


# 991: the last page ends exactly at the total, where a page would hold only its overlap
@pytest.mark.parametrize("total", [1000, 991])
def test_with_a_total_pages_are_read_ahead_and_none_past_it(
    billing_api: tuple[rm.Mocker, FakeBillingAPI], total: int
) -> None:
    _, api = billing_api
    api.records = [make_record(i) for i in range(1, total + 1)]

    assert read_ids("endpoints") == list(range(1, total + 1))
    assert sorted(api.pages) == [(offset, 100) for offset in range(0, total - 1, 99)]


def test_without_a_total_read_ahead_stays_within_its_window(
    billing_api: tuple[rm.Mocker, FakeBillingAPI],
) -> None:
    _, api = billing_api
    api.include_total = False

    assert read_ids("endpoints") == list(range(1, 251))
    needed = [(0, 100), (99, 100), (198, 100)]
    assert sorted(api.pages)[:3] == needed
    window = RetryPolicy().concurrency  # the default read-ahead window
    assert len(api.pages) <= len(needed) + window - 1


def test_pages_are_in_flight_at_the_same_time() -> None:
    four_at_once = threading.Barrier(4, timeout=10)  # breaks unless 4 requests meet
    with running_sandbox(size=1000) as api:
        for number in (2, 3, 4, 5):
            api.on_request(number, lambda _: four_at_once.wait())
        source = billing_source(base_url=api.url, api_key=api.api_key)

        ids = [record["id"] for record in source.resources["billing_records"]]

    assert sorted(ids) == sorted(record["id"] for record in api.records)
    assert not four_at_once.broken
