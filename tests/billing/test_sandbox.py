"""Tests for the local billing sandbox API: dataset, HTTP behaviour, faults and CLI."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import requests

from sources.billing.sandbox import Fault, SandboxAPI, make_records, running_sandbox

SANDBOX_FILE = Path(__file__).resolve().parents[2] / "sources" / "billing" / "sandbox.py"
EXPONENTS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}
KEYS = {"id", "customer_id", "currency", "amount", "date", "status", "description", "line_items"}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
SECOND = timedelta(seconds=1)


def get(sandbox: SandboxAPI, **params: Any) -> requests.Response:
    """GET /v1/billing with the sandbox's api key and the given query parameters."""
    return requests.get(
        f"{sandbox.url}/v1/billing", params={"api_key": sandbox.api_key, **params}, timeout=5
    )


def decimals(amount: str) -> int:
    """Count the digits after the decimal point of a decimal string."""
    return len(amount.partition(".")[2])


def instant(stamp: str) -> datetime:
    """Parse a record's '...Z' updated_at into an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def ids(records: list[dict[str, Any]]) -> list[int]:
    """List the ids of some records."""
    return [record["id"] for record in records]


def fetch_all(sandbox: SandboxAPI, **params: Any) -> tuple[list[dict[str, Any]], set[int]]:
    """Page through /v1/billing 7 records at a time; return the records and every total seen."""
    records: list[dict[str, Any]] = []
    totals: set[int] = set()
    while True:
        body = get(sandbox, offset=len(records), limit=7, **params).json()
        totals.add(body["total"])
        if not body["data"]:
            return records, totals
        records += body["data"]


def assert_well_formed(record: dict[str, Any]) -> None:
    """Check a record's shape: keys, currency precision, line items, charge and update times."""
    assert set(record) == KEYS | {"updated_at"}
    exponent = EXPONENTS[record["currency"]]
    assert decimals(record["amount"]) == exponent
    assert len(record["amount"].lstrip("-").partition(".")[0]) <= 20
    items = record["line_items"]
    assert 1 <= len(items) <= 3
    assert all(decimals(item["amount"]) == exponent for item in items)
    assert sum(Decimal(item["amount"]) for item in items) == Decimal(record["amount"])
    assert record["customer_id"].startswith("cus_") and len(record["customer_id"]) == 9
    assert record["status"] in {"paid", "open", "void"}
    assert (len(record["date"]) > 10) == (record["id"] % 10 == 0)
    assert STAMP.fullmatch(record["updated_at"])
    sent = record["date"] if len(record["date"]) > 10 else record["date"] + "T00:00:00+00:00"
    assert instant(record["updated_at"]) >= datetime.fromisoformat(sent)


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
        assert_well_formed(record)
        assert date(2024, 1, 1) <= date.fromisoformat(record["date"][:10]) <= date(2025, 12, 31)
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


# --- incremental filter ------------------------------------------------------------------


def test_updated_since_is_inclusive_and_orders_by_time_then_id() -> None:
    with running_sandbox(size=60) as sandbox:
        by_time = sorted(sandbox.records, key=lambda record: instant(record["updated_at"]))
        cutoff, just_before = by_time[30]["updated_at"], by_time[29]
        for position in (45, 9, 30):  # ids 46, 10 and 31 tie with the cutoff record
            sandbox.records[position]["updated_at"] = cutoff
        expected = sorted(
            (record for record in sandbox.records if record["updated_at"] >= cutoff),
            key=lambda record: (instant(record["updated_at"]), record["id"]),
        )
        got, totals = fetch_all(sandbox, updated_since=cutoff)
        assert ids(got) == ids(expected) and ids(got) != sorted(ids(got))
        assert totals == {len(expected)} and 30 <= len(expected) <= 33
        tied = [record["id"] for record in got if record["updated_at"] == cutoff]
        assert {10, 31, 46} <= set(tied) and tied == sorted(tied)
        assert just_before["id"] not in ids(got) or just_before["id"] in (10, 31, 46)
        assert ids(fetch_all(sandbox)[0]) == list(range(1, 61))  # no filter: list order


def test_updated_since_compares_instants_in_every_accepted_form() -> None:
    with running_sandbox(size=20) as sandbox:
        sandbox.records[3]["updated_at"] = "2030-01-02T03:04:05Z"
        sandbox.records[7]["updated_at"] = "2030-01-02T00:00:00Z"
        sandbox.records[11]["updated_at"] = "2030-01-01T23:59:59Z"

        def since(value: str) -> list[int]:
            body = get(sandbox, updated_since=value).json()
            assert body["total"] == len(body["data"])
            return ids(body["data"])

        assert since("2030-01-02T03:04:05Z") == since("2030-01-02T03:04:05+00:00") == [4]
        assert since("2030-01-02T05:04:05+02:00") == [4]
        assert since("2030-01-02T03:04:05.500Z") == []  # a string comparison would keep id 4
        assert since("2030-01-02") == [8, 4]
        assert since("2030-01-01T23:59:59Z") == [12, 8, 4]


@pytest.mark.parametrize(
    "value",
    ["yesterday", "", "2025-13-01", "2025-01-02T03:04:05", "2025-01-02 03:04:05Z", "1735689600"],
)
def test_bad_updated_since_gives_400(value: str) -> None:
    with running_sandbox(size=5) as sandbox:
        response = get(sandbox, updated_since=value)
        assert response.status_code == 400 and "updated_since" in response.json()["error"]


# --- clock and mutations -----------------------------------------------------------------


def test_clock_starts_after_the_dataset_and_each_stamp_is_newer() -> None:
    sandbox = SandboxAPI(size=80, seed=3)
    newest = max(instant(record["updated_at"]) for record in sandbox.records)
    start = sandbox.now()
    assert STAMP.fullmatch(start) and instant(start) == newest + SECOND
    assert sandbox.now() == start  # reading the clock does not move it
    stamps = [
        sandbox.update(5, status="open", updated_at="1999-01-01T00:00:00Z")["updated_at"],
        sandbox.mark_deleted(6)["updated_at"],
        *(record["updated_at"] for record in reversed(sandbox.insert_at_head(2))),
        sandbox.update(5, description="again")["updated_at"],
    ]
    assert stamps[0] == start and all(STAMP.fullmatch(stamp) for stamp in stamps)
    assert all(instant(later) - instant(earlier) == SECOND for earlier, later in pairwise(stamps))
    sandbox.delete_at_head()
    sandbox.remove(7)
    assert instant(sandbox.now()) == instant(stamps[-1]) + SECOND  # hard deletes stamp nothing
    assert SandboxAPI(size=0).now() == "2024-01-01T00:00:01Z"


def test_clock_and_changes_are_deterministic_per_seed() -> None:
    def script(seed: int) -> tuple[str, list[dict[str, Any]]]:
        sandbox = SandboxAPI(size=50, seed=seed)
        sandbox.update(4, status="void")
        sandbox.insert_at_head(3)
        sandbox.mark_deleted(20)
        return sandbox.now(), sandbox.records

    assert script(9) == script(9)
    assert script(9)[0] != script(10)[0] and script(9)[1][:3] != script(10)[1][:3]


def test_update_and_mark_deleted_keep_position_and_move_to_end_of_filter() -> None:
    with running_sandbox(size=30) as sandbox:
        cutoff = sandbox.now()
        assert get(sandbox, updated_since=cutoff).json()["total"] == 0
        updated = sandbox.update(7, description="changed", customer_id="cus_99999")
        deleted = sandbox.mark_deleted(3)
        assert updated is sandbox.records[6] and deleted is sandbox.records[2]
        assert deleted["status"] == "deleted" and updated["customer_id"] == "cus_99999"
        everything, totals = fetch_all(sandbox, updated_since="2000-01-01")
        assert totals == {30} and ids(everything)[-2:] == [7, 3]
        changed = get(sandbox, updated_since=cutoff).json()
        assert changed["data"] == [updated, deleted] and changed["total"] == 2
        unfiltered = get(sandbox, limit=30).json()["data"]
        assert ids(unfiltered) == list(range(1, 31)) and unfiltered[6]["description"] == "changed"
        with pytest.raises(KeyError, match="999"):
            sandbox.update(999, status="void")
        with pytest.raises(KeyError, match="999"):
            sandbox.mark_deleted(999)


def test_insert_at_head_continues_ids_with_well_formed_records() -> None:
    sandbox = SandboxAPI(size=40, seed=7)
    start = sandbox.now()
    created = sandbox.insert_at_head(60)
    assert ids(created) == list(range(100, 40, -1))  # newest first
    assert sandbox.records[:60] == created and ids(sandbox.records[60:]) == list(range(1, 41))
    stamps = [instant(record["updated_at"]) for record in reversed(created)]
    assert stamps[0] == instant(start) and all(b - a == SECOND for a, b in pairwise(stamps))
    for record in created:
        assert_well_formed(record)
    assert any(len(record["date"]) > 10 for record in created)  # ids 50, 60, ... have offsets
    assert len({record["customer_id"] for record in created}) > 1
    assert created == SandboxAPI(size=40, seed=7).insert_at_head(60)
    assert created != SandboxAPI(size=40, seed=8).insert_at_head(60)
    sandbox.remove(100)
    sandbox.delete_at_head(5)
    assert ids(sandbox.insert_at_head()) == [101]  # ids of deleted records are not reused
    sandbox.records.append({**sandbox.records[-1], "id": 500})
    assert ids(sandbox.insert_at_head(2)) == [502, 501]
    assert ids(SandboxAPI(size=0).insert_at_head(2)) == [2, 1]


def test_delete_at_head_and_remove_are_hard_deletes() -> None:
    with running_sandbox(size=10) as sandbox:
        before = sandbox.now()
        assert ids(sandbox.delete_at_head(3)) == [1, 2, 3]
        assert sandbox.delete_at_head(0) == []
        assert sandbox.remove(7)["id"] == 7
        body = get(sandbox).json()
        assert ids(body["data"]) == [4, 5, 6, 8, 9, 10] and body["total"] == 6
        assert get(sandbox, updated_since="2000-01-01").json()["total"] == 6
        assert sandbox.now() == before
        with pytest.raises(KeyError, match="7"):
            sandbox.remove(7)
        with pytest.raises(ValueError):
            sandbox.delete_at_head(-1)
        with pytest.raises(ValueError):
            sandbox.insert_at_head(-1)
        assert ids(sandbox.delete_at_head(100)) == [4, 5, 6, 8, 9, 10] and sandbox.records == []


def test_on_request_changes_data_just_before_that_request() -> None:
    with running_sandbox(size=30, faults=[Fault("status", request=2)]) as sandbox:
        seen: list[int] = []

        def change(target: SandboxAPI) -> None:
            seen.append(len(target.requests))
            target.insert_at_head(1)
            target.update(2, description="changed")

        sandbox.on_request(2, lambda target: target.remove(30))  # request 2 is faulted
        sandbox.on_request(3, change)
        first = get(sandbox, limit=5).json()
        assert first["total"] == 30 and ids(first["data"]) == [1, 2, 3, 4, 5]
        assert first["data"][1]["description"] != "changed"
        assert get(sandbox, limit=5).status_code == 503
        assert seen == [] and ids(sandbox.records)[-1] == 29  # the faulted request counted
        third = get(sandbox, limit=5).json()
        assert seen == [2] and third["total"] == 30 and ids(third["data"]) == [31, 1, 2, 3, 4]
        assert third["data"][2]["description"] == "changed"
        assert get(sandbox, limit=5).json()["data"] == third["data"] and seen == [2]
        with pytest.raises(ValueError):
            sandbox.on_request(4, change)


def test_pages_stay_consistent_while_data_changes() -> None:
    with running_sandbox(size=200) as sandbox:
        stop = threading.Event()

        def churn() -> None:
            while not stop.is_set():
                sandbox.mark_deleted(sandbox.insert_at_head(2)[1]["id"])
                sandbox.delete_at_head(1)
                time.sleep(0.001)

        thread = threading.Thread(target=churn)
        thread.start()
        try:
            for _ in range(20):
                body = get(sandbox, updated_since="2025-06-01", limit=50).json()
                keys = [(instant(record["updated_at"]), record["id"]) for record in body["data"]]
                assert keys == sorted(keys) and len(keys) == min(50, body["total"])
        finally:
            stop.set()
            thread.join()
        assert len(sandbox.records) > 200  # the churn really ran


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
