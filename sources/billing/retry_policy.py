"""The retry policy of an endpoint map, and the logged, redacted HTTP session that applies it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dlt.common import logger
from dlt.sources.helpers.requests import Client
from requests import PreparedRequest, RequestException, Response, Session
from requests.exceptions import ChunkedEncodingError, ConnectionError, HTTPError, Timeout
from tenacity import RetryCallState

from .errors import BillingConnectionError
from .map_schema import ClientSpec, RetrySpec
from .read_ahead import BudgetedAdapter, PageReadAhead, RequestBudget
from .redaction import REDACTOR
from .request_labels import RequestLabels

RETRYABLE_STATUSES = (429, 500, 502, 503, 504)
RETRYABLE_ERRORS = (ConnectionError, Timeout, ChunkedEncodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried, how often, and how long to wait in between.

    Waits follow dlt's exponential backoff, `backoff_factor * 2 ** (retry - 1)` seconds
    (2, 4, 8 for a factor of 2); a `Retry-After` header replaces the wait. No wait is
    longer than `max_wait`.
    """

    statuses: tuple[int, ...] = RETRYABLE_STATUSES
    max_retries: int = 3
    backoff_factor: float = 2
    max_wait: float = 60
    connect_timeout: float = 10
    read_timeout: float = 60
    concurrency: int = 16
    requests_per_second: float | None = None

    @classmethod
    def from_map(cls, retry: RetrySpec, client: ClientSpec) -> "RetryPolicy":
        """Reads the policy from an endpoint map's `retry` and `client` keys."""
        timeout = client.get("timeout", {})
        return cls(
            statuses=tuple(retry.get("statuses", RETRYABLE_STATUSES)),
            max_retries=retry.get("max_retries", cls.max_retries),
            backoff_factor=retry.get("backoff_factor", cls.backoff_factor),
            max_wait=retry.get("max_wait", cls.max_wait),
            connect_timeout=timeout.get("connect", cls.connect_timeout),
            read_timeout=timeout.get("read", cls.read_timeout),
            concurrency=client.get("concurrency", cls.concurrency),
            requests_per_second=client.get("requests_per_second"),
        )


def build_session(policy: RetryPolicy, labels: RequestLabels) -> tuple[Session, PageReadAhead]:
    """Builds a session that retries by `policy`, logs each retry and masks secrets in errors,
    and the read-ahead that sends pages through it ahead of dlt's sequential paging.

    dlt's `Client` does the retrying; what it lacks is added here: a WARNING per retry that
    names the resource, failures whose text carries no API key, a request budget and
    concurrent pages.
    """
    client = Client(
        request_timeout=(policy.connect_timeout, policy.read_timeout),
        raise_for_status=False,
        status_codes=policy.statuses,
        exceptions=RETRYABLE_ERRORS,
        request_max_attempts=policy.max_retries + 1,
        request_backoff_factor=policy.backoff_factor,
        request_max_retry_delay=policy.max_wait,
        respect_retry_after_header=True,
    )
    session = client.session
    adapter = BudgetedAdapter(RequestBudget(policy.requests_per_second), policy.concurrency + 2)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    read_ahead = PageReadAhead(policy.concurrency, session.prepare_request)
    # tenacity exposes the Retrying object of a wrapped function as `.retry`
    session.send.retry.before_sleep = _retry_logger(policy, labels, read_ahead)  # type: ignore[attr-defined]
    masked = _masking_failures(session.send, policy, labels)
    session.send = read_ahead.wrap(masked)  # type: ignore[method-assign]
    settings_once = _once_per_host(session.merge_environment_settings)  # type: ignore[arg-type]
    session.merge_environment_settings = settings_once  # type: ignore[assignment,method-assign]
    return session, read_ahead


def _once_per_host(merge: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Reads the proxy and CA settings from the environment once per host, not per request.

    requests looks them up in `os.environ` for every request, which cost a tenth of the
    extract time at 1,000 pages; they do not change while a run reads pages.
    """
    settings: dict[tuple[str, ...], dict[str, Any]] = {}

    def merge_once(url: str, *options: Any) -> dict[str, Any]:
        parts = urlsplit(url or "")
        key = (parts.scheme, parts.netloc, repr(options))
        if key not in settings:
            settings[key] = merge(url, *options)
        merged = settings[key]
        return {**merged, "proxies": dict(merged.get("proxies") or {})}

    return merge_once


def _retry_logger(
    policy: RetryPolicy, labels: RequestLabels, read_ahead: PageReadAhead
) -> Callable[[RetryCallState], None]:
    def log_retry(state: RetryCallState) -> None:
        request: PreparedRequest = state.args[0]
        url = request.url or ""
        wait = state.next_action.sleep if state.next_action else 0
        failure = _failure_of(state)
        logger.warning(
            f"{labels.resource(url)}, {labels.page(url)}: {failure};"
            f" retry {state.attempt_number} of {policy.max_retries} in {wait:g} s"
        )
        if failure == "HTTP 429":
            read_ahead.rate_limited()

    return log_retry


def _failure_of(state: RetryCallState) -> str:
    """`HTTP 503`, or the name of the error that stood in for an answer."""
    if state.outcome is None:
        return "failed"
    error = state.outcome.exception()
    if error is None:
        return f"HTTP {state.outcome.result().status_code}"
    if isinstance(error, HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def _masking_failures(
    send: Callable[..., Response], policy: RetryPolicy, labels: RequestLabels
) -> Callable[..., Response]:
    def send_masked(request: PreparedRequest, **kwargs: Any) -> Response:
        try:
            return send(request, **kwargs)
        except HTTPError:
            raise
        except RequestException as error:
            url = request.url or ""
            retried = isinstance(error, RETRYABLE_ERRORS)
            attempts = f" after {policy.max_retries + 1} attempts" if retried else ""
            failure = BillingConnectionError(
                f"{labels.resource(url)}, {labels.page(url)}: no answer from the API{attempts}"
                f" ({type(error).__name__}: {REDACTOR.redact(str(error))})."
                " Check the base URL and the network."
            )
        # raised outside the except block, so the unmasked error is not chained to it
        raise failure

    return send_masked
