"""Tests for the local billing sandbox API: dataset, HTTP behaviour, faults and CLI."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from sources.billing.sandbox import Fault, SandboxAPI, make_records, running_sandbox

SANDBOX_FILE = Path(__file__).resolve().parents[2] / "sources" / "billing" / "sandbox.py"
EXPONENTS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}


def get(sandbox: SandboxAPI, **params: Any) -> requests.Response:
    """GET /v1/billing with the sandbox's api key and the given query parameters."""
    return requests.get(
        f"{sandbox.url}/v1/billing", params={"api_key": sandbox.api_key, **params}, timeout=5
    )


def decimals(amount: str) -> int:
    """Count the digits after the decimal point of a decimal string."""
    return len(amount.partition(".")[2])


# --- dataset -----------------------------------------------------------------------------


def test_records_are_deterministic_per_seed() -> None:
    assert make_records(60, 7) == make_records(60, 7)
    assert make_records(60, 7) != make_records(60, 8)
    assert [record["id"] for record in make_records(60, 3)] == list(range(1, 61))
    assert make_records(0, 7) == []


@pytest.mark.parametrize("seed", [1, 7, 12345])
def test_special_records_exist_for_every_seed(seed: int) -> None:
    records = {record["id"]: record for record in make_records(10, seed)}
    big = records[3]
    assert big["currency"] == "USD"
    assert len(big["amount"].lstrip("-").partition(".")[0]) == 18
    unsafe = records[5]["amount"]
    assert records[5]["currency"] == "USD"
    assert Decimal(float(unsafe)) != Decimal(unsafe)
    assert Decimal(repr(float(unsafe))) != Decimal(unsafe)
    assert records[7]["currency"] == "JPY" and "." not in records[7]["amount"]
    stamp = datetime.fromisoformat(records[10]["date"])
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() < 0  # type: ignore[union-attr]
    assert records[10]["date"][:10] != stamp.astimezone(timezone.utc).date().isoformat()


def test_every_record_is_well_formed() -> None:
    records = make_records(500, 7)
    for record in records:
        exponent = EXPONENTS[record["currency"]]
        assert decimals(record["amount"]) == exponent
        assert len(record["amount"].lstrip("-").partition(".")[0]) <= 20
        items = record["line_items"]
        assert 1 <= len(items) <= 3
        assert all(decimals(item["amount"]) == exponent for item in items)
        assert sum(Decimal(item["amount"]) for item in items) == Decimal(record["amount"])
        assert record["customer_id"].startswith("cus_") and len(record["customer_id"]) == 9
        assert record["status"] in {"paid", "open", "void"}
        day = date.fromisoformat(record["date"][:10])
        assert date(2024, 1, 1) <= day <= date(2025, 12, 31)
        assert (len(record["date"]) > 10) == (record["id"] % 10 == 0)
        updated = datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00"))
        assert record["updated_at"].endswith("Z")
        if len(record["date"]) > 10:
            assert updated >= datetime.fromisoformat(record["date"])
        else:
            assert updated.date() >= day
    nulls = sum(record["description"] is None for record in records)
    assert 0.15 * len(records) < nulls < 0.35 * len(records)
    assert len({record["customer_id"] for record in records}) < len(records)
    assert {record["currency"] for record in records} == set(EXPONENTS)


# --- HTTP --------------------------------------------------------------------------------


def test_paging_returns_every_record_once() -> None:
    with running_sandbox(size=250, seed=7) as sandbox:
        seen: list[int] = []
        offset = 0
        while True:
            response = get(sandbox, offset=offset, limit=100)
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "application/json"
            body = response.json()
            assert body["total"] == 250 and body["offset"] == offset and body["limit"] == 100
            if not body["data"]:
                break
            seen += [record["id"] for record in body["data"]]
            offset += len(body["data"])
        assert seen == list(range(1, 251))
        assert get(sandbox).json()["data"] == make_records(250, 7)[:100]  # default limit 100


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    with running_sandbox(size=30) as sandbox:
        connection = http.client.HTTPConnection(sandbox.url.removeprefix("http://"), timeout=5)
        try:
            for offset in (0, 10, 20):
                connection.request("GET", f"/v1/billing?api_key=sandbox-key&offset={offset}")
                response = connection.getresponse()
                assert response.status == 200
                assert json.loads(response.read())["data"][0]["id"] == offset + 1
        finally:
            connection.close()


def test_missing_or_wrong_api_key_gives_401() -> None:
    with running_sandbox(api_key="secret") as sandbox:
        no_key = requests.get(f"{sandbox.url}/v1/billing", timeout=5)
        wrong = get(sandbox, api_key="nope")
        assert no_key.status_code == wrong.status_code == 401
        assert wrong.json() == {"error": "invalid api key"}
        assert get(sandbox).status_code == 200


def test_unknown_path_404_and_other_methods_405() -> None:
    with running_sandbox() as sandbox:
        missing = requests.get(f"{sandbox.url}/v2/nothing", timeout=5)
        assert missing.status_code == 404 and "error" in missing.json()
        posted = requests.post(f"{sandbox.url}/v1/billing", data=b"{}", timeout=5)
        assert posted.status_code == 405 and "error" in posted.json()


@pytest.mark.parametrize(
    "params", [{"limit": "abc"}, {"limit": "-1"}, {"offset": "1.5"}, {"limit": "1001"}]
)
def test_bad_paging_parameters_give_400(params: dict[str, str]) -> None:
    with running_sandbox() as sandbox:
        response = get(sandbox, **params)
        assert response.status_code == 400
        assert "error" in response.json()


def test_include_total_false_omits_total() -> None:
    with running_sandbox(include_total=False) as sandbox:
        body = get(sandbox, limit=5).json()
        assert "total" not in body and len(body["data"]) == 5


def test_amounts_as_raw_json_numbers_keep_every_digit() -> None:
    with running_sandbox(size=40, amount_as="number") as sandbox:
        text = get(sandbox, limit=40).text
        assert '"amount": 9007199254740993.01' in text
        assert '"amount": 123456789012345678.91' in text
        records = json.loads(text, parse_float=Decimal)["data"]
        expected = make_records(40, 7)
        for got, want in zip(records, expected, strict=True):
            assert not isinstance(got["amount"], str)
            assert Decimal(got["amount"]) == Decimal(want["amount"])
            item_amounts = [Decimal(item["amount"]) for item in got["line_items"]]
            assert item_amounts == [Decimal(item["amount"]) for item in want["line_items"]]


def test_latency_slows_every_request() -> None:
    with running_sandbox(latency_ms=150) as sandbox:
        started = time.monotonic()
        assert get(sandbox).status_code == 200
        assert time.monotonic() - started >= 0.15


# --- faults ------------------------------------------------------------------------------


def test_status_fault_sends_retry_after_then_recovers() -> None:
    faults = [Fault("status", status=429, retry_after="2")]
    with running_sandbox(faults=faults) as sandbox:
        first = get(sandbox)
        assert first.status_code == 429 and first.headers["Retry-After"] == "2"
        assert "error" in first.json()
        assert get(sandbox).status_code == 200
    assert faults[0].times == 1  # the caller's Fault is not used up


def test_drop_fault_closes_without_response() -> None:
    with running_sandbox(faults=[Fault("drop")]) as sandbox:
        with pytest.raises(requests.ConnectionError):
            get(sandbox)
        assert get(sandbox).status_code == 200


def test_truncate_fault_gives_incomplete_body() -> None:
    with running_sandbox(faults=[Fault("truncate")]) as sandbox:
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
            get(sandbox)
        assert get(sandbox).status_code == 200


def test_not_json_fault_sends_html() -> None:
    with running_sandbox(faults=[Fault("not_json")]) as sandbox:
        response = get(sandbox)
        assert response.status_code == 200 and response.text == "<html>oops</html>"
        with pytest.raises(ValueError):
            response.json()


@pytest.mark.parametrize(("kind", "missing"), [("no_data", "data"), ("no_total", "total")])
def test_body_faults_drop_one_key(kind: str, missing: str) -> None:
    with running_sandbox(faults=[Fault(kind)]) as sandbox:
        body = get(sandbox).json()
        assert missing not in body and body["offset"] == 0
        assert {"data", "total"} <= get(sandbox).json().keys()


def test_no_total_fault_works_when_total_is_already_off() -> None:
    with running_sandbox(include_total=False, faults=[Fault("no_total")]) as sandbox:
        response = get(sandbox, limit=3)
        assert response.status_code == 200
        assert sorted(response.json()) == ["data", "limit", "offset"]


def test_delay_fault_is_measurably_slower() -> None:
    with running_sandbox(faults=[Fault("delay", request=2, delay=0.3)]) as sandbox:
        durations = []
        for _ in range(3):
            started = time.monotonic()
            assert get(sandbox).status_code == 200
            durations.append(time.monotonic() - started)
        assert durations[1] >= 0.3
        assert durations[0] < 0.25 and durations[2] < 0.25


def test_faults_match_by_request_number_offset_and_times() -> None:
    faults = [Fault("status", request=2, status=500), Fault("status", offset=20, times=2)]
    with running_sandbox(faults=faults) as sandbox:
        statuses = [get(sandbox, offset=offset).status_code for offset in (0, 0, 20, 20, 20, 0)]
        assert statuses == [200, 500, 503, 503, 200, 200]


def test_fault_without_selector_hits_first_requests_in_order() -> None:
    faults = [Fault("status", times=2, status=502), Fault("status", status=504)]
    with running_sandbox(faults=faults) as sandbox:
        assert [get(sandbox).status_code for _ in range(4)] == [502, 502, 504, 200]


def test_add_fault_while_running() -> None:
    with running_sandbox() as sandbox:
        assert get(sandbox).status_code == 200
        sandbox.add_fault(Fault("status", status=503, retry_after="0"))
        response = get(sandbox)
        assert response.status_code == 503 and response.headers["Retry-After"] == "0"
        assert get(sandbox).status_code == 200


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        Fault("explode")


def test_request_log_records_statuses_without_api_key() -> None:
    with running_sandbox(api_key="top-secret", faults=[Fault("drop", request=2)]) as sandbox:
        get(sandbox, offset=0, limit=10)
        with pytest.raises(requests.ConnectionError):
            get(sandbox, offset=10, limit=10)
        get(sandbox, api_key="wrong")
        requests.get(f"{sandbox.url}/elsewhere", timeout=5)
        log = sandbox.requests
    assert [entry.status for entry in log] == [200, 0, 401]
    params = [{"offset": "0", "limit": "10"}, {"offset": "10", "limit": "10"}, {}]
    assert [entry.params for entry in log] == params
    assert all(entry.path == "/v1/billing" for entry in log)
    assert all("top-secret" not in repr(entry) for entry in log)
    assert log[0].at <= log[1].at <= log[2].at


# --- command line ------------------------------------------------------------------------


def test_cli_serves_until_terminated() -> None:
    command = [sys.executable, str(SANDBOX_FILE), "--size", "30", "--api-key", "cli-key"]
    with subprocess.Popen(
        [*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            prefix = "Sandbox billing API on http://127.0.0.1:"
            assert line.startswith(prefix) and line.endswith("(30 records, api key cli-key)")
            url = line.split(" on ", 1)[1].split(" ", 1)[0]
            params = {"api_key": "cli-key"}
            body = requests.get(f"{url}/v1/billing", params=params, timeout=5).json()
            assert body["total"] == 30 and len(body["data"]) == 30
        finally:
            process.terminate()
            rest, errors = process.communicate(timeout=5)
    assert process.returncode == 0
    assert rest == "" and errors == ""
