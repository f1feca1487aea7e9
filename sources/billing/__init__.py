"""Loads invoices, charges and billing records from a billing REST API via a YAML endpoint map."""

from typing import Any

import dlt
from dlt.extract import DltResource

from .destination_defaults import register_destination_defaults
from .endpoint_map import bundled_map_names, load_endpoint_map
from .errors import BillingAPIError, BillingConnectionError, BillingDataError, EndpointMapError
from .incremental import BackfillWindow, backfill_windows
from .pending_packages import abort_unnormalized_packages, settle_committed_copies
from .redaction import protect_secret
from .resources import billing_resources

__all__ = [
    "BillingAPIError",
    "BillingConnectionError",
    "BillingDataError",
    "EndpointMapError",
    "backfill_windows",
    "billing_source",
    "bundled_map_names",
]

DEFAULT_ENDPOINTS = "endpoints"
SOURCE_NAME = "billing"


@dlt.source(name=SOURCE_NAME)
def billing_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    # These three are typed Any, not unions: dlt resolves no union type from config and
    # would fall back to the default without a word. Each value is checked on use.
    endpoints: Any = DEFAULT_ENDPOINTS,
    start_date: Any = None,
    end_date: Any = None,
) -> list[DltResource]:
    """Reads every resource of an endpoint map from a billing API.

    Args:
        base_url: Root URL of the API, e.g. `https://api.example.com`.
        api_key: The API key; it is masked in every log line and error message.
        endpoints: The endpoint map: the name of a bundled map (`endpoints`), a path to a
            YAML file (str or Path), or an already-loaded mapping. It is validated before any
            request.
        start_date: With `end_date`, a backfill window: incremental resources load only
            records whose cursor lies in `[start_date, end_date)`, and their incremental
            state is left as it was. ISO-8601 strings, dates or datetimes; naive means UTC.
        end_date: The window's end, not included.

    Returns:
        One resource per resource of the map; pick some with `.with_resources(...)`.
    """
    protect_secret(api_key)
    window = BackfillWindow.between(start_date, end_date)
    endpoint_map = load_endpoint_map(endpoints)
    abort_unnormalized_packages(SOURCE_NAME)
    settle_committed_copies(SOURCE_NAME)
    register_destination_defaults()
    return billing_resources(endpoint_map, base_url, api_key, window)
