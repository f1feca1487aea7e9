"""Retries: exactly which failures, how often, how long between, and what is logged."""

import time
from email.utils import formatdate
from typing import Any
from unittest.mock import MagicMock

import pytest
import requests
import requests_mock as rm
from pytest_mock import MockerFixture

from sources.billing import BillingAPIError, BillingConnectionError, billing_source

from ..utils import raised
from .conftest import API_KEY, BASE_URL, fast_retry_map, make_record

URL = f"{BASE_URL}/v1/billing"
PAGE = {"json": {"data": [make_record(1), make_record(2)], "total": 2}}


@pytest.fixture
def waits(mocker: MockerFixture) -> MagicMock:
    """Records the waits between retries instead of sleeping through them."""
    return mocker.patch("time.sleep")


def read_all(**source_args: Any) -> list[dict[str, Any]]:
    source = billing_source(base_url=BASE_URL, api_key=API_KEY, **source_args)
    return list(source.resources["billing_records"])


def failing(times: int, then: dict[str, Any] = PAGE, **failure: Any) -> list[dict[str, Any]]:
    return [failure] * times + [then]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_status_is_retried_with_waits_of_2_4_8(status: int, waits: MagicMock) -> None:
    with rm.Mocker() as api:
        api.get(URL, failing(3, status_code=status))

        assert [record["id"] for record in read_all()] == [1, 2]

    assert api.call_count == 4
    assert [call.args[0] for call in waits.call_args_list] == [2, 4, 8]


@pytest.mark.parametrize("status", [503, 429])
def test_fourth_failure_gives_up_and_names_status_resource_and_page(
    status: int, waits: MagicMock
) -> None:
    with rm.Mocker() as api:
        api.get(URL, failing(4, status_code=status, reason="Busy"))

        with pytest.raises(Exception) as raised_error:
            read_all()
        error = raised(raised_error.value, BillingAPIError)

    assert api.call_count == 4
    message = str(error)
    assert message.startswith(f"billing_records, offset 0: HTTP {status} Busy.")
    assert "kept failing through every retry" in message


@pytest.mark.parametrize(
    "status,hint",
    [
        (400, "Check the endpoint's path and params"),
        (401, "Check the API key"),
        (403, "Check the API key"),
        (404, "Check the base URL"),
        (409, "Check the endpoint's path and params"),
        (501, "Check the endpoint's path and params"),
    ],
)
def test_other_statuses_fail_at_once_with_what_to_check(
    status: int, hint: str, waits: MagicMock
) -> None:
    with rm.Mocker() as api:
        api.get(URL, status_code=status, text='{"error": "nope"}')

        with pytest.raises(Exception) as raised_error:
            read_all()
        error = raised(raised_error.value, BillingAPIError)

    assert api.call_count == 1
    assert waits.call_count == 0
    assert f"billing_records, offset 0: HTTP {status}" in str(error)
    assert hint in str(error)
    assert 'The API said: {"error": "nope"}' in str(error)


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ConnectTimeout,
        requests.exceptions.ReadTimeout,
        requests.exceptions.ConnectionError,
    ],
)
def test_timeouts_and_dropped_connections_are_retried(error: type, waits: MagicMock) -> None:
    with rm.Mocker() as api:
        api.get(URL, failing(3, exc=error))

        assert len(read_all()) == 2

    assert api.call_count == 4
    assert [call.args[0] for call in waits.call_args_list] == [2, 4, 8]


def test_connection_failing_every_time_raises_a_masked_error(waits: MagicMock) -> None:
    with rm.Mocker() as api:
        api.get(URL, exc=requests.exceptions.ConnectionError(f"refused: {URL}?api_key={API_KEY}"))

        with pytest.raises(Exception) as raised_error:
            read_all()
        error = raised(raised_error.value, BillingConnectionError)

    assert api.call_count == 4
    assert str(error).startswith(
        "billing_records, offset 0: no answer from the API after 4 attempts"
    )
    assert API_KEY not in str(error)
    assert error.__context__ is None and error.__cause__ is None


@pytest.mark.parametrize("header,expected_wait", [("5", 5), ("120", 60), ("0", 2)])
def test_retry_after_sets_the_wait_up_to_the_ceiling(
    header: str, expected_wait: float, waits: MagicMock
) -> None:
    with rm.Mocker() as api:
        api.get(URL, failing(1, status_code=429, headers={"Retry-After": header}))

        assert len(read_all()) == 2

    assert [call.args[0] for call in waits.call_args_list] == [expected_wait]


def test_retry_after_as_http_date_is_honoured(waits: MagicMock) -> None:
    in_30_s = formatdate(time.time() + 30, usegmt=True)
    with rm.Mocker() as api:
        api.get(URL, failing(1, status_code=503, headers={"Retry-After": in_30_s}))

        assert len(read_all()) == 2

    (wait,) = [call.args[0] for call in waits.call_args_list]
    assert 25 <= wait <= 31


def test_each_retry_logs_a_warning_with_status_resource_attempt_and_wait(
    waits: MagicMock, dlt_warnings: list[str]
) -> None:
    with rm.Mocker() as api:
        api.get(URL, [{"status_code": 503}] * 2 + [{"exc": requests.exceptions.ReadTimeout}, PAGE])

        read_all()

    assert dlt_warnings == [
        "billing_records, offset 0: HTTP 503; retry 1 of 3 in 2 s",
        "billing_records, offset 0: HTTP 503; retry 2 of 3 in 4 s",
        "billing_records, offset 0: ReadTimeout; retry 3 of 3 in 8 s",
    ]


def test_retry_policy_comes_from_the_map(waits: MagicMock) -> None:
    endpoint_map = fast_retry_map(statuses=[503], max_retries=1, backoff_factor=3)
    with rm.Mocker() as api:
        api.get(URL, [{"status_code": 503}, {"status_code": 500}])

        with pytest.raises(Exception, match="HTTP 500"):
            read_all(endpoints=endpoint_map)

    assert api.call_count == 2
    assert [call.args[0] for call in waits.call_args_list] == [3]


def test_a_later_page_failing_names_its_offset(waits: MagicMock) -> None:
    with rm.Mocker() as api:
        first = {"json": {"data": [make_record(i) for i in range(100)], "total": 150}}
        api.get(URL, [first, {"status_code": 401}])

        with pytest.raises(Exception, match="billing_records, offset 99: HTTP 401"):
            read_all()
