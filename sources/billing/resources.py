"""Builds dlt resources from a validated endpoint map through dlt's `rest_api_resources`."""

import base64
import importlib.util
from typing import Any

from dlt.extract import DltResource
from dlt.sources.rest_api import rest_api_resources
from dlt.sources.rest_api.typing import EndpointResource, RESTAPIConfig

from .columns import (
    column_hints,
    minor_units_converter,
    nested_money_converter,
    record_converter,
    soft_delete_hints,
    soft_delete_marker,
)
from .endpoint_map import EndpointMap
from .file_format import fastest_file_format
from .incremental import BackfillWindow, incremental_config
from .map_schema import AuthSpec, PaginatorSpec, ResourceSpec
from .page_check import PageCheck
from .paging import make_paginator, offset_param, page_size_params
from .read_ahead import PageReadAhead
from .redaction import protect_secret, warn_if_key_travels_in_clear
from .request_labels import EndpointLabel, RequestLabels
from .retry_policy import RetryPolicy, build_session
from .vendor_paging import page_param

DEFAULT_PAGINATOR: PaginatorSpec = {"type": "single_page"}
ARROW_INSTALLED = importlib.util.find_spec("pyarrow") is not None


def billing_resources(
    endpoint_map: EndpointMap, base_url: str, api_key: str, window: BackfillWindow | None = None
) -> list[DltResource]:
    """Returns one dlt resource per resource of the map, reading from `base_url`.

    With a backfill `window`, incremental resources read only the records inside it.
    """
    warn_if_key_travels_in_clear(base_url)
    spec = endpoint_map.spec
    client = spec.get("client", {})
    policy = RetryPolicy.from_map(spec.get("retry", {}), client)
    resources = endpoint_map.resources()
    labels = RequestLabels([_label(resource) for resource in resources])

    auth = client.get("auth")
    session, read_ahead = build_session(policy, labels)
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,
            "headers": client.get("headers", {}),
            "session": session,
        },
        "resources": [
            _rest_api_resource(resource, labels, policy, window, read_ahead)
            for resource in resources
        ],
    }
    if auth is not None:
        config["client"]["auth"] = _auth_config(auth, api_key)  # type: ignore[typeddict-item]
    dlt_resources = rest_api_resources(config)
    if ARROW_INSTALLED:
        for dlt_resource, resource in zip(dlt_resources, resources, strict=True):
            _split_pages_into_arrow_tables(dlt_resource, resource)
    file_format = fastest_file_format()
    if file_format is not None:
        for dlt_resource in dlt_resources:
            dlt_resource.apply_hints(file_format=file_format)
    return dlt_resources


def _split_pages_into_arrow_tables(dlt_resource: DltResource, resource: ResourceSpec) -> None:
    """Has the resource hand dlt arrow tables, with money and dates converted column-wise."""
    from .arrow_pages import PageBatches, PageTables
    from .arrow_tables import root_hints

    dlt_resource.apply_hints(columns=root_hints())
    # right after the request step: dlt's record steps hand on plain lists, without the paginator
    dlt_resource.add_step(PageBatches(), insert_at=1)
    key = _single_key(resource)
    convert = record_converter(resource["name"], resource.get("columns", {}), key)
    dlt_resource.add_step(PageTables(dlt_resource, convert, key))


def _query_values(params: dict[str, Any]) -> dict[str, Any]:
    """The map's fixed parameters as an API reads them: `true`, not Python's `True`."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else value
        for name, value in params.items()
    }


def _auth_config(auth: AuthSpec, api_key: str) -> dict[str, Any]:
    """dlt's auth settings for the map's scheme; HTTP Basic sends the key as the user name."""
    if auth["type"] == "bearer":
        return {"type": "bearer", "token": api_key}
    if auth["type"] == "http_basic":
        # the header carries base64 of `key:`, which the key's own mask would not catch
        protect_secret(base64.b64encode(f"{api_key}:".encode()).decode())
        return {"type": "http_basic", "username": api_key, "password": ""}
    return {
        "type": "api_key",
        "name": auth.get("name", "api_key"),
        "api_key": api_key,
        "location": auth.get("location", "query"),
    }


def _label(resource: ResourceSpec) -> EndpointLabel:
    paginator = resource["endpoint"].get("paginator", DEFAULT_PAGINATOR)
    path = resource["endpoint"]["path"]
    return EndpointLabel(resource["name"], path, offset_param(paginator), page_param(paginator))


def _primary_key(resource: ResourceSpec) -> list[str]:
    key = resource.get("primary_key", [])
    return [key] if isinstance(key, str) else list(key)


def _single_key(resource: ResourceSpec) -> str | None:
    primary_key = _primary_key(resource)
    return primary_key[0] if len(primary_key) == 1 else None


def _rest_api_resource(
    resource: ResourceSpec,
    labels: RequestLabels,
    policy: RetryPolicy,
    window: BackfillWindow | None,
    read_ahead: PageReadAhead,
) -> EndpointResource:
    name, endpoint = resource["name"], resource["endpoint"]
    primary_key = _primary_key(resource)
    data_selector = endpoint.get("data_selector", "$")
    check = PageCheck(name, data_selector, primary_key, labels, policy.statuses)
    paginator = endpoint.get("paginator", DEFAULT_PAGINATOR)

    built: dict[str, Any] = {
        "name": name,
        "columns": column_hints(resource.get("columns", {})),
        "endpoint": {
            "path": endpoint["path"],
            "method": endpoint.get("method", "GET"),
            "params": {**page_size_params(paginator), **_query_values(endpoint.get("params", {}))},
            # compiled once: dlt would parse the JSONPath again for every page
            "data_selector": check.records_path,
            "paginator": make_paginator(paginator, name, primary_key, read_ahead),
            "response_actions": [check],
        },
        "processing_steps": [],
    }
    if primary_key:
        built["primary_key"] = primary_key
    if "write_disposition" in resource:
        built["write_disposition"] = resource["write_disposition"]
    if "schema_contract" in resource:
        built["schema_contract"] = dict(resource["schema_contract"])
    if "incremental" in endpoint:
        built["endpoint"]["incremental"] = incremental_config(endpoint["incremental"], window)
        cursor = endpoint["incremental"]["cursor_path"]
        if resource.get("write_disposition") == "merge" and primary_key and cursor.isidentifier():
            # a record read twice in one run (data moved while paging): the newer one wins
            built["columns"].setdefault(cursor, {})["dedup_sort"] = "desc"

    key = _single_key(resource)
    for money_step in (
        minor_units_converter(name, resource.get("columns", {}), key),
        nested_money_converter(name, resource.get("nested_money", {}), key),
    ):
        if money_step is not None:
            built["processing_steps"].append({"map": money_step})
    convert = record_converter(name, resource.get("columns", {}), key)
    if convert is not None and not ARROW_INSTALLED:  # else `PageTables` converts whole columns
        built["processing_steps"].append({"map": convert})
    if "soft_delete" in resource:
        built["columns"].update(soft_delete_hints(resource["soft_delete"]))
        marker = soft_delete_marker(resource["soft_delete"])
        if marker is not None:
            built["processing_steps"].append({"map": marker})
    return built  # type: ignore[return-value]
