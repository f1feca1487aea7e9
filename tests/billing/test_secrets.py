"""The API key never shows: errors, tracebacks, logs at any level, the trace, files on disk."""

import json
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import dlt
import pytest
import requests_mock as rm
from pytest_mock import MockerFixture

from sources.billing import billing_source
from sources.billing.redaction import REDACTOR
from sources.billing.sandbox import Fault, running_sandbox

from .conftest import BASE_URL, fast_retry_map, make_record

SECRET = "sk_live_Zq8+/w=K3y"
SECRET_FORMS = (SECRET, quote(SECRET, safe=""), quote_plus(SECRET))


def assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text


@pytest.fixture
def all_log_lines() -> Iterator[list[str]]:
    """Every log line of every logger at DEBUG, urllib3's and dlt's included, formatted."""
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(logging.Formatter().format(record))  # type: ignore[method-assign]
    dlt.pipeline(pipeline_name="logging_setup")  # sets up dlt's logger, which does not propagate
    loggers = [logging.getLogger(), logging.getLogger("dlt")]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield lines
    for logger, level in saved:
        logger.setLevel(level)
        logger.removeHandler(handler)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_failing(base_url: str, endpoints: object = "endpoints") -> BaseException:
    pipeline = dlt.pipeline(pipeline_name="secrets", destination="duckdb", dataset_name="billing")
    with pytest.raises(Exception) as error:
        pipeline.run(billing_source(base_url=base_url, api_key=SECRET, endpoints=endpoints))
    return error.value


def test_key_is_not_in_logs_of_a_run_with_retries(
    all_log_lines: list[str], mocker: MockerFixture
) -> None:
    with running_sandbox(
        size=150, api_key=SECRET, faults=[Fault("status", request=2, status=503)]
    ) as api:
        pipeline = dlt.pipeline(
            pipeline_name="secrets", destination="duckdb", dataset_name="billing"
        )
        pipeline.run(billing_source(base_url=api.url, api_key=SECRET, endpoints=fast_retry_map()))

    text = "\n".join(all_log_lines)
    assert "GET /v1/billing?" in text  # urllib3's DEBUG lines were captured
    assert "HTTP 503; retry 1 of 3" in text
    assert_no_secret(text)


def test_key_is_not_in_a_connection_error_its_traceback_or_the_logs(
    all_log_lines: list[str],
) -> None:
    error = run_failing(f"http://127.0.0.1:{free_port()}", fast_retry_map(max_retries=1))

    formatted = "".join(traceback.format_exception(error))
    assert "no answer from the API after 2 attempts" in formatted
    assert_no_secret(formatted)
    assert_no_secret(str(error))
    assert_no_secret("\n".join(all_log_lines))


def test_key_echoed_by_the_api_is_masked_in_the_error() -> None:
    with rm.Mocker() as api:
        api.get(f"{BASE_URL}/v1/billing", status_code=401, text=f"unknown key {SECRET}")

        error = run_failing(BASE_URL)

    assert "HTTP 401" in str(error)
    assert "unknown key ***" in str(error)
    assert_no_secret("".join(traceback.format_exception(error)))


def test_key_under_a_parameter_name_dlt_does_not_mask_stays_hidden(
    all_log_lines: list[str],
) -> None:
    logging.getLogger("dlt").setLevel(logging.INFO)  # dlt logs the full request URL at INFO
    endpoint_map = fast_retry_map()
    endpoint_map["client"]["auth"]["name"] = "access_code"
    with rm.Mocker() as api:
        api.get(f"{BASE_URL}/v1/billing", json={"data": [make_record(1)], "total": 1})
        pipeline = dlt.pipeline(
            pipeline_name="secrets", destination="duckdb", dataset_name="billing"
        )
        pipeline.run(billing_source(base_url=BASE_URL, api_key=SECRET, endpoints=endpoint_map))

    assert api.last_request.qs["access_code"] == [SECRET.lower()]
    text = "\n".join(all_log_lines)
    assert "access_code=***" in text
    assert_no_secret(text)


def test_key_is_not_in_the_trace_or_any_file_the_pipeline_writes(tmp_path: Path) -> None:
    with running_sandbox(size=120, api_key=SECRET) as api:
        pipeline = dlt.pipeline(
            pipeline_name="secrets", destination="duckdb", dataset_name="billing"
        )
        pipeline.run(billing_source(base_url=api.url, api_key=SECRET))
        api.add_fault(Fault("status", status=401))
        with pytest.raises(Exception, match="HTTP 401"):
            pipeline.run(billing_source(base_url=api.url, api_key=SECRET))

    trace = pipeline.last_trace
    assert trace is not None and trace.steps
    assert_no_secret(str(trace))
    assert_no_secret(json.dumps(trace.asdict(), default=str))
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.name.endswith(".duckdb") for path in written)
    assert any("trace" in path.name for path in written)
    for path in written:
        content = path.read_bytes()
        for form in SECRET_FORMS:
            assert form.encode() not in content, path


def test_plain_http_to_a_remote_host_warns_and_loopback_does_not(mocker: MockerFixture) -> None:
    warning = mocker.patch("sources.billing.redaction.logger.warning")

    billing_source(base_url="https://api.example.com", api_key=SECRET)
    billing_source(base_url="http://127.0.0.1:8000", api_key=SECRET)
    billing_source(base_url="http://localhost:8000", api_key=SECRET)
    assert warning.call_count == 0

    billing_source(base_url="http://api.example.com", api_key=SECRET)
    (message,) = warning.call_args.args
    assert "http://api.example.com is plain http: the API key travels unencrypted" in message
    assert_no_secret(message)


def test_a_value_too_short_to_be_a_key_is_not_masked_everywhere() -> None:
    REDACTOR.add("k")

    assert REDACTOR.redact("unknown key") == "unknown key"
