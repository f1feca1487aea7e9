"""The endpoint map's keys as typed dicts: each key's type, choices and meaning, in one place.

The validator in `endpoint_map.py` walks these definitions, and the reference in the
package README is checked against them, so a key is described here once.
"""

from typing import Annotated, Literal

from typing_extensions import Required, TypedDict

ColumnType = Literal[
    "text", "bigint", "bool", "double", "decimal", "money", "date", "timestamp", "json"
]
WriteDisposition = Literal["append", "replace", "merge"]


PaginatorType = Literal[
    "offset", "cursor", "starting_after", "next_link", "page_number", "single_page"
]


class PaginatorSpec(TypedDict, total=False):
    type: Required[
        Annotated[
            PaginatorType,
            "Paging scheme: `offset`; `cursor` (a token from the body, e.g. Chargebee's"
            " `next_offset`); `starting_after` (the last record's id, as Stripe pages);"
            " `next_link` (a URL in the body); `page_number`; `single_page`.",
        ]
    ]
    limit: Annotated[int, "Records asked for per page. Default 100."]
    limit_param: Annotated[
        str, "Query parameter that carries the page size, e.g. `per_page`. Default `limit`."
    ]
    offset_param: Annotated[
        str, "`offset`: query parameter that carries the offset. Default `offset`.", "skip"
    ]
    total_path: Annotated[
        str,
        "`offset`: where the body gives the record count, e.g. `total`; `page_number`: the"
        " page count, e.g. `meta.total_pages`. Paging stops there if present.",
    ]
    has_more_path: Annotated[
        str, "Where the body says whether more pages follow, e.g. `has_more`; honoured if present."
    ]
    cursor_path: Annotated[
        str,
        "`cursor`: where the body gives the next page's token, e.g. `next_offset`; paging"
        " stops when it is missing or null. `next_link`: where it gives the next page's URL,"
        " e.g. `next`.",
    ]
    cursor_param: Annotated[
        str,
        "`cursor` and `starting_after`: query parameter that carries the token or the last id,"
        " e.g. `offset` or `starting_after`.",
    ]
    cursor_field: Annotated[
        str, "`starting_after`: the record field sent as the token. Default `id`.", "number"
    ]
    page_param: Annotated[
        str, "`page_number`: query parameter of the page. Default `page`.", "page_number"
    ]
    first_page: Annotated[int, "`page_number`: number of the first page. Default 1.", "0"]


class IncrementalSpec(TypedDict, total=False):
    cursor_path: Required[
        Annotated[str, "Field that says when a record last changed, e.g. `updated_at`."]
    ]
    start_param: Annotated[
        str,
        "Query parameter that asks for records changed at or after a time, e.g."
        " `updated_since`. Without it every run reads everything and keeps what changed.",
    ]
    initial_value: Annotated[
        str, "Where the first run starts, e.g. `2024-01-01T00:00:00Z`.", "2024-01-01T00:00:00Z"
    ]
    cursor_format: Annotated[
        Literal["iso", "unix"],
        "How the API writes the cursor and reads `start_param`: `iso` timestamps (default)"
        " or `unix` seconds.",
    ]
    lookback: Annotated[
        float,
        "Seconds a later run steps back from the last cursor value, so late writes are read"
        " (dlt's `lag`). Default 300.",
    ]
    row_order: Annotated[
        Literal["asc", "desc"],
        "Cursor order the API answers in when filtered; lets a backfill window stop reading"
        " at its end (`asc`). Leave it out when the API promises no order.",
    ]


class EndpointSpec(TypedDict, total=False):
    path: Annotated[str, "Path under the base URL, e.g. `/v1/billing`."]
    method: Annotated[Literal["GET"], "HTTP method. Default `GET`.", "GET"]
    params: Annotated[
        dict[str, str | int | float | bool | list[str]],
        "Fixed query parameters sent with every request, e.g. `{status: paid}`; a list is sent"
        " as the parameter repeated. Never a secret.",
    ]
    data_selector: Annotated[str, "JSONPath to the list of records in the body, e.g. `data`."]
    paginator: Annotated[PaginatorSpec, "How the endpoint pages through its records."]
    incremental: Annotated[IncrementalSpec, "Load only what changed since the last run."]


class ColumnSpec(TypedDict, total=False):
    data_type: Required[
        Annotated[
            ColumnType,
            "Column type. `money` is an exact decimal, whether the API sends a string or a JSON"
            " number; `date` keeps the calendar date the API sent, whatever its time zone.",
        ]
    ]
    nullable: Annotated[bool, "Whether the column may hold nulls. Default true."]
    precision: Annotated[int, "Total digits of a `money` or `decimal` column. Default 38.", "18"]
    scale: Annotated[
        int, "Digits after the point of a `money` or `decimal` column. Default 9.", "4"
    ]
    units: Annotated[
        Literal["major", "minor"],
        "How the API writes a `money` field: `major` units (`12.50`, as a string or a number;"
        " default) or `minor` units (`1250`, an integer or a string of digits). Minor units"
        " load as major units by the currency's ISO 4217 exponent, and the raw value stays in"
        " `<column>_minor_units`.",
    ]
    currency_field: Annotated[
        str,
        "`units: minor`: the record field with the ISO 4217 currency code, e.g."
        " `currency_code`. Default `currency`.",
    ]


class NestedMoneySpec(TypedDict, total=False):
    units: Annotated[
        Literal["major", "minor"],
        "As `columns.<name>.units`: `major` (default) or `minor`, kept in `<field>_minor_units`.",
    ]
    currency_field: Annotated[
        str,
        "`units: minor`: the field with the currency code, looked up beside the amount first,"
        " then on the record. Default `currency`.",
    ]


PrimaryKey = Annotated[
    str | list[str], "Column, or list of columns, that identifies a record, e.g. `id`."
]
WriteDispositionKey = Annotated[
    WriteDisposition, "How a load meets existing rows: `append`, `replace` or `merge`."
]


class SoftDeleteSpec(TypedDict, total=False):
    column: Required[Annotated[str, "Field that marks a deleted record, e.g. `status`."]]
    value: Annotated[
        str | int | bool,
        "The value that means deleted, e.g. `deleted`. Without it the field is a true/false flag.",
    ]


ContractMode = Literal["evolve", "freeze", "discard_row", "discard_value"]


class SchemaContractSpec(TypedDict, total=False):
    tables: Annotated[ContractMode, "New tables: `evolve` (default) or `freeze`, say.", "freeze"]
    columns: Annotated[
        ContractMode, "New columns: `freeze` fails the run on an unknown field.", "freeze"
    ]
    data_type: Annotated[ContractMode, "A value of another type than its column's.", "discard_row"]


class ResourceSpec(TypedDict, total=False):
    name: Required[Annotated[str, "Resource and table name, e.g. `billing_records`."]]
    endpoint: Required[Annotated[EndpointSpec, "Where and how the records are read."]]
    primary_key: PrimaryKey
    write_disposition: WriteDispositionKey
    columns: Annotated[dict[str, ColumnSpec], "Column type hints by column name."]
    nested_money: Annotated[
        dict[str, NestedMoneySpec],
        "Money fields inside nested lists, by dotted path, e.g. `line_items.amount` or"
        " `lines.data.amount`; each loads as an exact decimal in its child table.",
    ]
    schema_contract: Annotated[
        SchemaContractSpec, "dlt's schema contract for the resource's tables.", "{columns: freeze}"
    ]
    soft_delete: Annotated[
        SoftDeleteSpec,
        "How the API marks a deleted record; such rows are removed from the destination."
        " Needs `write_disposition: merge`.",
    ]


class ResourceDefaultsSpec(TypedDict, total=False):
    primary_key: PrimaryKey
    write_disposition: WriteDispositionKey
    endpoint: Annotated[
        EndpointSpec, "Endpoint settings every resource takes unless it sets its own."
    ]


class AuthSpec(TypedDict, total=False):
    type: Required[
        Annotated[
            Literal["api_key", "bearer", "http_basic"],
            "Auth scheme: `api_key` (a parameter or header), `bearer` (`Authorization: Bearer"
            " <key>`) or `http_basic` (the key as user name, no password).",
        ]
    ]
    name: Annotated[str, "`api_key`: name of the query parameter or header. Default `api_key`."]
    location: Annotated[
        Literal["query", "header"], "`api_key`: where the key travels. Default `query`."
    ]


class TimeoutSpec(TypedDict, total=False):
    connect: Annotated[float, "Seconds to wait for a connection. Default 10."]
    read: Annotated[float, "Seconds to wait for an answer. Default 60."]


class ClientSpec(TypedDict, total=False):
    auth: Annotated[AuthSpec, "How the API key is sent; the key itself comes from secrets."]
    headers: Annotated[
        dict[str, str], "Fixed headers sent with every request, e.g. `{Accept: application/json}`."
    ]
    timeout: Annotated[TimeoutSpec, "Connect and read timeouts."]
    concurrency: Annotated[
        int,
        "Pages read at the same time; lowered on a 429, raised back when calm. Default 16.",
        "4",
    ]
    requests_per_second: Annotated[
        float, "Most requests begun in any second, retries included, e.g. `25`. Default none."
    ]


class RetrySpec(TypedDict, total=False):
    statuses: Annotated[
        list[int], "HTTP statuses that are retried. Default 429, 500, 502, 503, 504."
    ]
    max_retries: Annotated[int, "Retries after the first attempt. Default 3."]
    backoff_factor: Annotated[
        float, "Waits are factor * 2**(retry - 1) seconds: 2, 4, 8 for factor 2. Default 2."
    ]
    max_wait: Annotated[
        float, "Ceiling in seconds for one wait, `Retry-After` included. Default 60."
    ]


class EndpointMapSpec(TypedDict, total=False):
    client: Annotated[ClientSpec, "Settings shared by every request."]
    retry: Annotated[RetrySpec, "When and how a failed request is tried again."]
    resources: Required[Annotated[list[ResourceSpec], "The resources to load, one per table."]]
    resource_defaults: Annotated[ResourceDefaultsSpec, "Settings shared by every resource."]
