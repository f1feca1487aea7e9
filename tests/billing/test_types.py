"""Exact money and calendar dates: nothing is rounded, passed through a float or shifted a day."""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import requests_mock as rm

from sources.billing import billing_source
from sources.billing.columns import calendar_date, column_hints, exact_money

from .conftest import API_KEY, BASE_URL


@pytest.mark.parametrize(
    "value,expected",
    [
        ("12.34", "12.34"),
        ("9007199254740993.01", "9007199254740993.01"),
        ("123456789012345678.91", "123456789012345678.91"),
        (" -0.50 ", "-0.50"),
        (Decimal("0.1"), "0.1"),
        (100, "100"),
        (10**20, "100000000000000000000"),
        ("1E+3", "1E+3"),
    ],
)
def test_exact_money_keeps_every_digit(value: Any, expected: str) -> None:
    assert exact_money(value) == Decimal(expected)
    assert str(exact_money(value)) == expected


@pytest.mark.parametrize(
    "value,problem",
    [
        (0.1, "is not an amount"),
        (True, "is not an amount"),
        ("12,50", "is not an amount"),
        ("Infinity", "is not an amount"),
        ("0.0000000001", "more than 9 decimal places"),
        ("1" * 30, "more than 29 integer digits"),
    ],
)
def test_exact_money_refuses_what_it_cannot_hold_exactly(value: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        exact_money(value)


def test_exact_money_follows_the_column_scale() -> None:
    assert exact_money("1.234", scale=3, precision=10) == Decimal("1.234")
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        exact_money("1.234", scale=2, precision=10)


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-31",
        "2024-03-31T22:30:00-05:00",
        "2024-03-31T00:30:00+14:00",
        "2024-03-31 23:59:59Z",
        datetime(2024, 3, 31, 23, 0, tzinfo=timezone(timedelta(hours=-8))),
        date(2024, 3, 31),
    ],
)
def test_calendar_date_is_the_day_the_api_sent(value: Any) -> None:
    assert calendar_date(value) == date(2024, 3, 31)


@pytest.mark.parametrize("value", ["31/03/2024", "", 20240331, "2024-3-31"])
def test_calendar_date_refuses_what_is_not_a_date(value: Any) -> None:
    with pytest.raises(ValueError, match="is not a calendar date"):
        calendar_date(value)


def test_money_and_date_columns_become_exact_hints() -> None:
    hints = column_hints(
        {
            "id": {"data_type": "bigint", "nullable": False},
            "amount": {"data_type": "money"},
            "fee": {"data_type": "money", "precision": 12, "scale": 3},
            "date": {"data_type": "date"},
        }
    )

    assert hints == {
        "id": {"data_type": "bigint", "nullable": False},
        "amount": {"data_type": "decimal", "precision": 38, "scale": 9, "nullable": True},
        "fee": {"data_type": "decimal", "precision": 12, "scale": 3, "nullable": True},
        "date": {"data_type": "date", "nullable": True},
    }


def test_json_numbers_reach_records_as_exact_decimals() -> None:
    body = (
        '{"data": [{"id": 1, "amount": 9007199254740993.01, "date": "2024-03-31T23:00:00-05:00"}]}'
    )
    assert json.loads(body)["data"][0]["amount"] != Decimal(
        "9007199254740993.01"
    )  # a float would lose it

    with rm.Mocker() as api:
        api.get(f"{BASE_URL}/v1/billing", text=body)
        (record,) = list(
            billing_source(base_url=BASE_URL, api_key=API_KEY).resources["billing_records"]
        )

    assert record["amount"] == Decimal("9007199254740993.01")
    assert record["date"] == date(2024, 3, 31)
