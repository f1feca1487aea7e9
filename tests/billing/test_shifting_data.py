"""Records inserted, deleted or moved while pages are read: no record is ever skipped."""

from collections.abc import Callable
from typing import Any

import pytest
import requests_mock as rm

from sources.billing import billing_source

from .conftest import API_KEY, BASE_URL, FakeBillingAPI, make_record, one_page_at_a_time

Change = Callable[[list[dict[str, Any]]], None]


def read_with_change(
    before_request: int, change: Change, size: int = 250, endpoints: Any = None
) -> tuple[list[int], FakeBillingAPI]:
    """Reads every page, applying `change` to the API's records just before one request.

    Pages are read one at a time unless another map is given, so requests come in order.
    """
    endpoints = endpoints if endpoints is not None else one_page_at_a_time()
    api = FakeBillingAPI([make_record(i) for i in range(1, size + 1)])

    def respond(request: Any, context: Any) -> str:
        if len(api.pages) + 1 == before_request:
            change(api.records)
        return api.respond(request, context)

    with rm.Mocker() as mocker:
        mocker.get(f"{BASE_URL}/v1/billing", text=respond)
        source = billing_source(base_url=BASE_URL, api_key=API_KEY, endpoints=endpoints)
        ids = [record["id"] for record in source.resources["billing_records"]]
    return ids, api


def test_records_deleted_at_the_head_mid_run_leave_no_gap() -> None:
    ids, api = read_with_change(2, lambda records: records.__delitem__(slice(0, 3)))

    assert sorted(ids) == list(range(1, 251))  # 1-3 were read before they went
    assert len(ids) == len(set(ids))
    assert api.pages == [(0, 100), (99, 100), (0, 100), (99, 100), (198, 100)]


def test_records_inserted_at_the_head_mid_run_bring_no_duplicate() -> None:
    def insert(records: list[dict[str, Any]]) -> None:
        records[:0] = [make_record(1000 + i) for i in range(5)]

    ids, api = read_with_change(2, insert)

    assert ids == list(range(1, 251))
    assert api.pages == [(0, 100), (99, 100), (198, 100)]


def test_a_record_moving_to_the_end_mid_run_skips_nothing() -> None:
    def move_50_to_the_end(records: list[dict[str, Any]]) -> None:
        (moved,) = [record for record in records if record["id"] == 50]
        records.remove(moved)
        records.append({**moved, "amount": "99.99"})

    ids, _ = read_with_change(2, move_50_to_the_end)

    assert set(ids) == set(range(1, 251))
    assert ids.count(50) == 2  # once where it was, once where it went: the newer one is last


def test_a_whole_page_deleted_mid_run_is_read_on_from_the_start() -> None:
    ids, _ = read_with_change(2, lambda records: records.__delitem__(slice(0, 100)))

    assert set(ids) == set(range(1, 251))


def test_deletes_on_several_pages_still_leave_no_gap() -> None:
    def delete_every_tenth(records: list[dict[str, Any]]) -> None:
        records[:] = [record for record in records if record["id"] % 10 or record["id"] > 150]

    ids, _ = read_with_change(3, delete_every_tenth, size=400)

    survivors = {i for i in range(1, 401) if i % 10 or i > 150}
    assert survivors <= set(ids)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("before_request", [2, 3, 5])
def test_records_deleted_while_pages_are_read_ahead_leave_no_gap(before_request: int) -> None:
    ids, _ = read_with_change(
        before_request,
        lambda records: records.__delitem__(slice(0, 7)),
        size=1200,
        endpoints="endpoints",
    )

    assert set(range(8, 1201)) <= set(ids)
