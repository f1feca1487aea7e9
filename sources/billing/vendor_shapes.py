"""What each vendor's API looks like to the vendor sandbox: its auth, paging, record
wrapping, money representation and change filter, per the vendor's public API docs."""

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class VendorResource:
    """One list endpoint: where its records sit in the body and which fields hold money."""

    path: str
    kind: str  # customer, invoice, subscription or charge: the id prefix and the wrapper key
    records_at: str = "data"  # `list`: Chargebee's list of `{kind: record}` wrappers
    money: tuple[str, ...] = ()  # dotted paths; `field:currency_field` for a currency of its own
    line_items: str | None = None  # dotted path of the nested list
    line_money: str = "amount"


@dataclass(frozen=True)
class VendorShape:
    """How one vendor's API authenticates, pages, writes money and filters by change."""

    auth: Literal["bearer", "basic"]
    paging: Literal["starting_after", "cursor", "next_link", "page_number"]
    money: Literal["minor_int", "minor_string", "decimal_string", "float"]
    resources: tuple[VendorResource, ...]
    headers: dict[str, str] = field(default_factory=dict)  # required, as sent
    limit_param: str = "limit"
    page_param: str = "cursor"  # the token, last id or page number a request pages with
    next_at: str = ""  # dotted path of the next token or link in the body
    has_more_at: str | None = None
    absolute_links: bool = False
    token_when_done: Literal["omit", "null", "link"] = "null"
    currency_field: str = "currency"
    lower_case_currency: bool = False
    id_field: str = "id"
    changed_field: str = "updated_at"
    unix_time: bool = False
    since_param: str | None = None
    since_strict: bool = False  # `updated_at[after]` is strict, `[gte]` is not
    extra: dict[str, Any] = field(default_factory=dict)  # constant fields of every record


INVOICE_LINES = {"line_items": "line_items", "line_money": "amount"}
VENDORS: dict[str, VendorShape] = {
    "stripe": VendorShape(
        auth="bearer",
        headers={"Stripe-Version": "2024-06-20"},
        paging="starting_after",
        page_param="starting_after",
        has_more_at="has_more",
        money="minor_int",
        lower_case_currency=True,
        changed_field="created",
        unix_time=True,
        since_param="created[gte]",
        resources=(
            VendorResource("/v1/customers", "customer", money=("balance",)),
            VendorResource(
                "/v1/invoices",
                "invoice",
                money=("amount_due", "amount_paid", "total"),
                line_items="lines.data",
            ),
            VendorResource("/v1/subscriptions", "subscription"),
            VendorResource("/v1/charges", "charge", money=("amount", "amount_refunded")),
        ),
    ),
    "chargebee": VendorShape(
        auth="basic",
        paging="cursor",
        page_param="offset",
        next_at="next_offset",
        token_when_done="omit",
        money="minor_int",
        currency_field="currency_code",
        unix_time=True,
        since_param="updated_at[after]",
        since_strict=True,
        extra={"deleted": False},
        resources=(
            VendorResource("/api/v2/customers", "customer", records_at="list"),
            VendorResource(
                "/api/v2/invoices",
                "invoice",
                records_at="list",
                money=("total", "sub_total", "amount_paid", "amount_due"),
                **INVOICE_LINES,
            ),
            VendorResource(
                "/api/v2/subscriptions", "subscription", records_at="list", money=("mrr",)
            ),
            VendorResource(
                "/api/v2/transactions", "transaction", records_at="list", money=("amount",)
            ),
        ),
    ),
    "recurly": VendorShape(
        auth="basic",
        headers={"Accept": "application/vnd.recurly.v2021-02-25"},
        paging="next_link",
        next_at="next",
        has_more_at="has_more",
        money="float",
        since_param="begin_time",
        resources=(
            VendorResource("/accounts", "account"),
            VendorResource(
                "/invoices", "invoice", money=("subtotal", "total", "paid"), **INVOICE_LINES
            ),
            VendorResource("/subscriptions", "subscription", money=("unit_amount", "total")),
            VendorResource("/transactions", "transaction", money=("amount",)),
        ),
    ),
    "lago": VendorShape(
        auth="bearer",
        paging="page_number",
        limit_param="per_page",
        page_param="page",
        money="minor_int",
        id_field="lago_id",
        resources=(
            VendorResource("/api/v1/customers", "customer", records_at="customers"),
            VendorResource(
                "/api/v1/invoices",
                "invoice",
                records_at="invoices",
                money=("fees_amount_cents", "taxes_amount_cents", "total_amount_cents"),
            ),
            VendorResource("/api/v1/subscriptions", "subscription", records_at="subscriptions"),
            VendorResource(
                "/api/v1/fees",
                "fee",
                records_at="fees",
                money=("amount_cents:amount_currency", "total_amount_cents:amount_currency"),
            ),
        ),
    ),
    "orb": VendorShape(
        auth="bearer",
        paging="cursor",
        next_at="pagination_metadata.next_cursor",
        has_more_at="pagination_metadata.has_more",
        money="decimal_string",
        changed_field="created_at",
        since_param="created_at[gte]",
        resources=(
            VendorResource("/v1/customers", "customer", money=("balance",)),
            VendorResource(
                "/v1/invoices",
                "invoice",
                money=("subtotal", "total", "amount_due"),
                **INVOICE_LINES,
            ),
            VendorResource("/v1/subscriptions", "subscription"),
        ),
    ),
    "paddle": VendorShape(
        auth="bearer",
        headers={"Paddle-Version": "1"},
        paging="next_link",
        limit_param="per_page",
        page_param="after",
        next_at="meta.pagination.next",
        has_more_at="meta.pagination.has_more",
        absolute_links=True,
        token_when_done="link",
        money="minor_string",
        currency_field="currency_code",
        since_param="updated_at[GTE]",
        resources=(
            VendorResource("/customers", "customer"),
            VendorResource("/subscriptions", "subscription"),
            VendorResource(
                "/transactions",
                "transaction",
                money=("details.totals.subtotal", "details.totals.tax", "details.totals.total"),
                line_items="details.line_items",
                line_money="totals.total",
            ),
        ),
    ),
}
