"""Checks each answer from the billing API: error statuses, JSON bodies, records and their keys."""

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from dlt.common import jsonpath
from requests import Response

from .errors import BillingAPIError, BillingDataError
from .redaction import REDACTOR
from .request_labels import RequestLabels

MAX_SHOWN_BODY = 200


class PageCheck:
    """A response hook for one resource; it fails loudly where dlt would go on quietly.

    - An error status raises `BillingAPIError` naming the status, the resource, the page and
      what to check. Retryable statuses are raised too, so that dlt's retry sees them.
    - The body is parsed once, with every JSON number that has a fraction read as an exact
      `Decimal`; the parsed body replaces `response.json` for dlt's paginator and extractor.
    - A body that is not JSON, that lacks the records, or holds a record without its primary
      key raises `BillingDataError`. dlt would read a missing `data` as an empty page.
    """

    def __init__(
        self,
        resource: str,
        data_selector: str,
        primary_key: Sequence[str],
        labels: RequestLabels,
        retryable: Sequence[int],
    ) -> None:
        self.resource = resource
        self.data_selector = data_selector
        self.records_path = jsonpath.compile_path(data_selector)
        self.primary_key = list(primary_key)
        self.labels = labels
        self.retryable = set(retryable)

    def __call__(self, response: Response, *args: Any, **kwargs: Any) -> Response:
        page = self.labels.page(response.url)
        if response.status_code >= 400:
            raise BillingAPIError(self._status_message(response, page), response)

        body = self._parse(response, page)
        response.json = lambda **_: body  # type: ignore[method-assign]
        self._check_records(body, page)
        return response

    def _status_message(self, response: Response, page: str) -> str:
        status = response.status_code
        if status in (401, 403):
            hint = "Check the API key (`api_key` in secrets) and its permissions."
        elif status == 404:
            hint = "Check the base URL (`base_url` in config) and the endpoint path in the map."
        elif status in self.retryable:
            hint = "The API kept failing through every retry; try again later."
        else:
            hint = "Check the endpoint's path and params in the endpoint map."
        body = REDACTOR.redact(response.text[:MAX_SHOWN_BODY].strip())
        said = f" The API said: {body}" if body else ""
        reason = f" {response.reason}" if response.reason else ""
        return f"{self.resource}, {page}: HTTP {status}{reason}. {hint}{said}"

    def _parse(self, response: Response, page: str) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            start = REDACTOR.redact(response.text[:40])
            raise BillingDataError(
                self.resource, page, f"the body is not JSON (it starts with {start!r})"
            ) from None

    def _check_records(self, body: Any, page: str) -> None:
        found = jsonpath.find_values(self.records_path, body)
        if not found and not self._empty_list(body):
            raise BillingDataError(self.resource, page, f"the body has no `{self.data_selector}`")
        records: list[Any] = found[0] if len(found) == 1 and isinstance(found[0], list) else found
        for index, record in enumerate(records):
            missing = self._missing_keys(record)
            if missing:
                raise BillingDataError(
                    self.resource, page, f"record {index} on the page has no `{missing}`"
                )

    def _empty_list(self, body: Any) -> bool:
        """Whether a selector into each element of a list, as `list[*].customer` (Chargebee
        wraps every record), matched nothing because the list is empty."""
        container, each, _ = self.data_selector.partition("[*]")
        if not each:
            return False
        lists = jsonpath.find_values(container, body) if container else [body]
        return bool(lists) and lists[0] == []

    def _missing_keys(self, record: Any) -> str:
        if not isinstance(record, dict):
            return ", ".join(self.primary_key) or "fields"
        return ", ".join(key for key in self.primary_key if record.get(key) is None)
