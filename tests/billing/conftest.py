"""Fixtures for the billing tests: a mocked billing API and the bundled sandbox."""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dlt
import pytest
import requests_mock as rm

from sources.billing.sandbox import SandboxAPI, running_sandbox

BASE_URL = "https://api.example.com"
API_KEY = "test-key-7f3a9c"
FAST_RETRIES = {"statuses": [429, 500, 502, 503, 504], "max_retries": 3, "backoff_factor": 0.01}


def make_record(record_id: int, **fields: Any) -> dict[str, Any]:
    """A billing record as the vendor-neutral API sends it."""
    record = {
        "id": record_id,
        "customer_id": f"cus_{record_id % 7:03d}",
        "amount": f"{record_id}.25",
        "date": "2024-05-01",
    }
    record.update(fields)
    return record


@dataclass
class FakeBillingAPI:
    """Pages of `/v1/billing` served through requests-mock, shaped by a few switches."""

    records: list[dict[str, Any]]
    include_total: bool = True
    has_more: bool = False
    pages: list[tuple[int, int]] = field(default_factory=list)

    def respond(self, request: Any, context: Any) -> str:
        offset = int(request.qs.get("offset", ["0"])[0])
        limit = int(request.qs.get("limit", ["100"])[0])
        self.pages.append((offset, limit))
        body: dict[str, Any] = {"data": self.records[offset : offset + limit]}
        if self.include_total:
            body["total"] = len(self.records)
        if self.has_more:
            body["has_more"] = offset + limit < len(self.records)
        return json.dumps(body, default=str)


@pytest.fixture
def billing_api() -> Iterator[tuple[rm.Mocker, FakeBillingAPI]]:
    """A mocked billing API with 250 records; tests may swap records or switches."""
    fake = FakeBillingAPI([make_record(i) for i in range(1, 251)])
    with rm.Mocker() as mocker:
        mocker.get(f"{BASE_URL}/v1/billing", text=fake.respond)
        yield mocker, fake


@pytest.fixture
def dlt_warnings() -> Iterator[list[str]]:
    """Collects what the source logs through dlt's logger at WARNING and above."""
    dlt.pipeline(pipeline_name="logging_setup")  # sets up dlt's logger
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("dlt").addHandler(handler)
    yield messages
    logging.getLogger("dlt").removeHandler(handler)


@pytest.fixture
def sandbox() -> Iterator[SandboxAPI]:
    """The bundled sandbox API on 127.0.0.1 with 250 records."""
    with running_sandbox(size=250, seed=7) as api:
        yield api


def fast_retry_map(**retry: Any) -> dict[str, Any]:
    """The bundled map with waits of milliseconds, for tests that retry over real HTTP."""
    import yaml

    from sources.billing.endpoint_map import BUNDLED_MAPS_DIR

    endpoint_map = yaml.safe_load((BUNDLED_MAPS_DIR / "endpoints.yaml").read_text())
    endpoint_map["retry"] = {**FAST_RETRIES, **retry}
    return endpoint_map


def one_page_at_a_time() -> dict[str, Any]:
    """The bundled map reading one page at a time, for tests that follow each request."""
    endpoint_map = fast_retry_map()
    endpoint_map["client"]["concurrency"] = 1
    return endpoint_map


def decimal_sum(values: list[Any]) -> Decimal:
    return sum((Decimal(str(value)) for value in values), Decimal(0))
