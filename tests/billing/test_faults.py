"""Retries over real HTTP: the sandbox misbehaves, the load still arrives whole and exact."""

import time
from decimal import Decimal

import dlt
import pytest

from sources.billing import billing_source
from sources.billing.sandbox import Fault, SandboxAPI, running_sandbox

from ..utils import assert_load_info, load_table_counts
from .conftest import fast_retry_map


def exact_total(api: SandboxAPI) -> Decimal:
    return sum((Decimal(record["amount"]) for record in api.records), Decimal(0))


def load(api: SandboxAPI, read_timeout: float = 5) -> dlt.Pipeline:
    endpoint_map = fast_retry_map(max_wait=0.05)
    endpoint_map["client"]["timeout"] = {"connect": 2, "read": read_timeout}
    pipeline = dlt.pipeline(pipeline_name="faults", destination="duckdb", dataset_name="billing")
    info = pipeline.run(
        billing_source(base_url=api.url, api_key=api.api_key, endpoints=endpoint_map)
    )
    assert_load_info(info)
    return pipeline


def loaded_total(pipeline: dlt.Pipeline) -> Decimal:
    with pipeline.sql_client() as client:
        return Decimal(client.execute_sql("SELECT SUM(amount) FROM billing_records")[0][0])


FAULT_MIXES = {
    "5xx and 429 with Retry-After": [
        Fault("status", offset=0, status=503, retry_after="0"),
        Fault("status", offset=99, status=429, retry_after="30", times=2),
        Fault("status", offset=198, status=502, times=3),
    ],
    "dropped connections and cut bodies": [
        Fault("drop", offset=99, times=2),
        Fault("truncate", offset=198, times=3),
    ],
    "429 with an HTTP-date": [
        Fault("status", offset=99, status=429, retry_after="Wed, 21 Oct 2099 07:28:00 GMT"),
    ],
}


@pytest.mark.parametrize("faults", FAULT_MIXES.values(), ids=FAULT_MIXES.keys())
def test_faults_within_the_retry_budget_still_load_everything_exactly(faults: list[Fault]) -> None:
    with running_sandbox(size=250, faults=faults) as api:
        pipeline = load(api)
        statuses = [request.status for request in api.requests]

    assert load_table_counts(pipeline, "billing_records") == {"billing_records": 250}
    assert loaded_total(pipeline) == exact_total(api)
    assert statuses.count(200) >= 3
    assert len(statuses) == 3 + sum(fault.times for fault in faults)


def test_an_answer_slower_than_the_read_timeout_is_retried() -> None:
    with running_sandbox(size=150, faults=[Fault("delay", offset=99, delay=1.0)]) as api:
        pipeline = load(api, read_timeout=0.3)
        deadline = time.monotonic() + 5
        while len(api.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # the slow answer is logged when it ends, after the retry's

    offsets = sorted(request.params.get("offset") for request in api.requests)
    assert offsets == ["0", "99", "99"]
    assert load_table_counts(pipeline, "billing_records") == {"billing_records": 150}


def test_a_page_failing_past_its_retries_fails_the_run_and_keeps_earlier_loads() -> None:
    with running_sandbox(size=250) as api:
        pipeline = load(api)
        for record_id in range(1, 251):  # every record changes, so the next run reads every page
            api.update(record_id, description="changed")
        api.add_fault(Fault("status", offset=99, status=503, times=4))

        with pytest.raises(Exception, match=r"billing_records, offset 99: HTTP 503"):
            load(api)

    assert load_table_counts(pipeline, "billing_records") == {"billing_records": 250}
    assert loaded_total(pipeline) == exact_total(api)
