"""The vendor paging schemes, money in minor units and unix cursors, each on its own."""

from decimal import Decimal
from typing import Any

import pytest
import requests_mock as rm
from dlt.sources.helpers.rest_client import RESTClient

from sources.billing.columns import minor_units_converter, nested_money_converter
from sources.billing.currencies import currency_exponent, major_units, whole_minor_units
from sources.billing.incremental import BackfillWindow, incremental_config
from sources.billing.request_labels import EndpointLabel, RequestLabels
from sources.billing.vendor_paging import NextLinkPaginator, StartingAfterPaginator

from .conftest import BASE_URL

URL = f"{BASE_URL}/v1/invoices"


def read(paginator: Any, responses: list[dict[str, Any]]) -> tuple[list[list[Any]], list[Any]]:
    """The pages read, and the query of each request."""
    with rm.Mocker() as api:
        api.get(URL, responses)
        client = RESTClient(base_url=BASE_URL, paginator=paginator, data_selector="data")
        pages = [list(page) for page in client.paginate("/v1/invoices", params={"limit": 2})]
        return pages, [request.qs for request in api.request_history]


def test_starting_after_sends_the_last_id_until_has_more_is_false() -> None:
    pages, queries = read(
        StartingAfterPaginator(),
        [
            {"json": {"data": [{"id": "in_1"}, {"id": "in_2"}], "has_more": True}},
            {"json": {"data": [{"id": "in_3"}], "has_more": False}},
        ],
    )

    assert pages == [[{"id": "in_1"}, {"id": "in_2"}], [{"id": "in_3"}]]
    assert queries == [{"limit": ["2"]}, {"limit": ["2"], "starting_after": ["in_2"]}]


def test_starting_after_without_the_flag_stops_on_an_empty_page() -> None:
    pages, queries = read(
        StartingAfterPaginator(cursor_field="number", has_more_path=None),
        [{"json": {"data": [{"number": 7}]}}, {"json": {"data": []}}],
    )

    assert pages == [[{"number": 7}], []]
    assert queries[1]["starting_after"] == ["7"]


def test_starting_after_fails_when_the_last_record_has_no_id() -> None:
    with pytest.raises(Exception, match="has no `id` to page on"):
        read(StartingAfterPaginator(), [{"json": {"data": [{"name": "x"}], "has_more": True}}])


def test_a_next_link_stops_on_has_more_though_the_link_is_still_there() -> None:
    meta = {"pagination": {"next": f"{URL}?after=in_2", "has_more": True}}
    done = {"pagination": {"next": f"{URL}?after=in_3", "has_more": False}}
    pages, queries = read(
        NextLinkPaginator("meta.pagination.next", "meta.pagination.has_more"),
        [
            {"json": {"data": [{"id": "in_1"}, {"id": "in_2"}], "meta": meta}},
            {"json": {"data": [{"id": "in_3"}], "meta": done}},
        ],
    )

    assert pages == [[{"id": "in_1"}, {"id": "in_2"}], [{"id": "in_3"}]]
    assert queries[1] == {"after": ["in_2"]}  # the link as given, nothing added


def test_a_relative_next_link_is_read_against_the_request_url() -> None:
    pages, queries = read(
        NextLinkPaginator("next"),
        [
            {"json": {"data": [{"id": 1}], "next": "/v1/invoices?cursor=abc"}},
            {"json": {"data": [{"id": 2}], "next": None}},
        ],
    )

    assert pages == [[{"id": 1}], [{"id": 2}]]
    assert queries[1] == {"cursor": ["abc"]}


def test_a_page_is_named_by_its_token() -> None:
    labels = RequestLabels([EndpointLabel("invoices", "/v1/invoices", None, "starting_after")])

    assert labels.page(f"{URL}?limit=100") == "first page"
    assert labels.page(f"{URL}?limit=100&starting_after=in_2") == "starting_after in_2"


@pytest.mark.parametrize(
    ("code", "exponent"), [("USD", 2), ("usd", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)]
)
def test_currency_exponents_are_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["XYZ", "credits", "", None, 840])
def test_a_code_iso_4217_does_not_list_is_refused(code: Any) -> None:
    with pytest.raises(ValueError, match="is not an ISO 4217 currency code"):
        currency_exponent(code)


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (1250, "USD", "12.50"),
        ("36000", "GBP", "360.00"),
        (1250, "JPY", "1250"),
        (-5, "KWD", "-0.005"),
    ],
)
def test_minor_units_become_exact_major_units(minor: Any, currency: str, major: str) -> None:
    assert major_units(whole_minor_units(minor), currency) == Decimal(major)
    assert str(major_units(whole_minor_units(minor), currency)) == major


@pytest.mark.parametrize("value", [12.5, "12.5", "1e3", True, "", Decimal("1.5")])
def test_minor_units_that_are_not_whole_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="minor units"):
        whole_minor_units(value)


def test_the_converter_reaches_into_objects_and_keeps_the_raw_value() -> None:
    columns: Any = {
        "details__totals__total": {
            "data_type": "money",
            "units": "minor",
            "currency_field": "currency_code",
        }
    }
    convert = minor_units_converter("transactions", columns, "id")
    assert convert is not None
    record = {"id": "txn_1", "currency_code": "JPY", "details": {"totals": {"total": "36000"}}}

    assert convert(record)["details"]["totals"] == {
        "total": Decimal(36000),
        "total_minor_units": 36000,
    }
    assert convert({"id": "txn_2", "details": None}) == {"id": "txn_2", "details": None}


def test_a_minor_amount_without_a_currency_names_the_record() -> None:
    convert = minor_units_converter(
        "invoices", {"total": {"data_type": "money", "units": "minor"}}, "id"
    )
    assert convert is not None

    with pytest.raises(ValueError, match=r"invoices, id='in_9': `total`: None is not an ISO 4217"):
        convert({"id": "in_9", "total": 100})


def test_unix_cursors_get_their_bounds_in_seconds() -> None:
    spec: Any = {
        "cursor_path": "updated_at",
        "cursor_format": "unix",
        "initial_value": "2024-01-01",
    }
    window = BackfillWindow.between("2024-02-01", "2024-03-01")

    assert incremental_config(spec, None)["initial_value"] == 1704067200
    config = incremental_config(spec, window)
    assert (config["initial_value"], config["end_value"]) == (1706745600, 1709251200)


def test_nested_money_is_read_in_every_element_of_a_list() -> None:
    fields: Any = {
        "lines.data.amount": {"units": "minor"},
        "lines.data.note": {},
    }
    convert = nested_money_converter("invoices", fields, "id")
    assert convert is not None
    record = {
        "id": "in_1",
        "currency": "usd",
        "lines": {"data": [{"amount": 1250}, {"amount": 99, "currency": "jpy"}, {"note": "1.5"}]},
    }

    lines = convert(record)["lines"]["data"]
    assert lines == [
        {"amount": Decimal("12.50"), "amount_minor_units": 1250},
        {"amount": Decimal(99), "amount_minor_units": 99, "currency": "jpy"},
        {"note": Decimal("1.5")},
    ]


def test_a_nested_amount_that_is_not_money_names_the_record() -> None:
    convert = nested_money_converter("invoices", {"line_items.amount": {}}, "id")
    assert convert is not None

    with pytest.raises(ValueError, match=r"invoices, id='in_4': `line_items.amount`: 'n/a' is not"):
        convert({"id": "in_4", "line_items": [{"amount": "n/a"}]})
