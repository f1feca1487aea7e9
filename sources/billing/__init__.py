"""Loads invoices, charges and billing records from a billing REST API via a YAML endpoint map."""

from typing import Any

import dlt
from dlt.extract import DltResource

from .endpoint_map import bundled_map_names, load_endpoint_map
from .errors import BillingAPIError, BillingConnectionError, BillingDataError, EndpointMapError
from .redaction import protect_secret
from .resources import billing_resources

__all__ = [
    "BillingAPIError",
    "BillingConnectionError",
    "BillingDataError",
    "EndpointMapError",
    "billing_source",
    "bundled_map_names",
]

DEFAULT_ENDPOINTS = "endpoints"


@dlt.source(name="billing")
def billing_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    # Any, not a union: dlt resolves no union type from config, and would silently fall back
    # to the default when `endpoints` is set in config.toml. The value is checked on loading.
    endpoints: Any = DEFAULT_ENDPOINTS,
) -> list[DltResource]:
    """Reads every resource of an endpoint map from a billing API.

    Args:
        base_url: Root URL of the API, e.g. `https://api.example.com`.
        api_key: The API key; it is masked in every log line and error message.
        endpoints: The endpoint map: the name of a bundled map (`endpoints`), a path to a
            YAML file (str or Path), or an already-loaded mapping. It is validated before any
            request.

    Returns:
        One resource per resource of the map; pick some with `.with_resources(...)`.
    """
    protect_secret(api_key)
    endpoint_map = load_endpoint_map(endpoints)
    return billing_resources(endpoint_map, base_url, api_key)
