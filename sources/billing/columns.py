"""Column hints from the endpoint map, and the exact conversions of money and calendar dates."""

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from dlt.common.schema.typing import TColumnSchema

from .currencies import major_units, whole_minor_units
from .map_schema import ColumnSpec, NestedMoneySpec, SoftDeleteSpec

DEFAULT_PRECISION = 38
DEFAULT_SCALE = 9
DELETED_MARKER_COLUMN = "is_deleted"
MINOR_UNITS_SUFFIX = "_minor_units"
DEFAULT_CURRENCY_FIELD = "currency"
NESTING = "__"  # how dlt joins a nested object's field names into a column name
DECIMAL_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$", re.ASCII)
CALENDAR_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:$|[T ])")

Record = dict[str, Any]
# a money field: its name in messages, the keys that reach it, and how it is written
MoneyField = tuple[str, list[str], ColumnSpec | NestedMoneySpec]


def column_hints(columns: dict[str, ColumnSpec]) -> dict[str, TColumnSchema]:
    """Turns the map's column types into dlt column hints; `money` becomes a fixed decimal."""
    hints: dict[str, TColumnSchema] = {}
    for name, spec in columns.items():
        data_type = spec["data_type"]
        hint: TColumnSchema = {"nullable": spec.get("nullable", True)}
        if data_type in ("money", "decimal"):
            hint["data_type"] = "decimal"
            hint["precision"] = spec.get("precision", DEFAULT_PRECISION)
            hint["scale"] = spec.get("scale", DEFAULT_SCALE)
        else:
            hint["data_type"] = data_type  # type: ignore[typeddict-item]
        hints[name] = hint
        if spec.get("units") == "minor":
            hints[name + MINOR_UNITS_SUFFIX] = {"data_type": "bigint", "nullable": True}
    return hints


def minor_units_converter(
    resource: str, columns: dict[str, ColumnSpec], primary_key: str | None
) -> Callable[[Record], Record] | None:
    """Returns a step turning each `units: minor` money column into exact major units by its
    record's currency, keeping the raw value beside it; None when the map has no such column.

    A column name with `__` reaches into nested objects, as dlt names their columns:
    `details__totals__total` is `record["details"]["totals"]["total"]`.
    """
    fields: list[MoneyField] = [
        (name, name.split(NESTING), spec)
        for name, spec in columns.items()
        if spec["data_type"] == "money" and spec.get("units") == "minor"
    ]
    return _money_step(resource, fields, primary_key)


def nested_money_converter(
    resource: str, fields: dict[str, NestedMoneySpec], primary_key: str | None
) -> Callable[[Record], Record] | None:
    """Returns a step making each money field inside nested lists an exact decimal, or None.

    A path steps through objects and into every element of a list on its way: with
    `lines.data.amount`, each element of `record["lines"]["data"]` has its `amount` read.
    """
    paths: list[MoneyField] = [(path, path.split("."), spec) for path, spec in fields.items()]
    return _money_step(resource, paths, primary_key)


def _money_step(
    resource: str, fields: list[MoneyField], primary_key: str | None
) -> Callable[[Record], Record] | None:
    """The step reading each field (named `label`, reached by `steps`) as its spec says."""
    if not fields:
        return None

    def convert(record: Record) -> Record:
        for label, steps, spec in fields:
            try:
                for holder in _holders(record, steps[:-1]):
                    _read_money(holder, steps[-1], spec, record)
            except ValueError as error:
                which = f"{primary_key}={record.get(primary_key)!r}" if primary_key else "a record"
                raise ValueError(f"{resource}, {which}: `{label}`: {error}") from None
        return record

    return convert


def _holders(node: Any, steps: list[str]) -> Iterator[dict[str, Any]]:
    """The objects at the end of `steps`, stepping into every element of each list."""
    if isinstance(node, list):
        for element in node:
            yield from _holders(element, steps)
    elif isinstance(node, dict):
        if not steps:
            yield node
        else:
            yield from _holders(node.get(steps[0]), steps[1:])


def _read_money(
    holder: dict[str, Any], name: str, spec: ColumnSpec | NestedMoneySpec, record: Record
) -> None:
    value = holder.get(name)
    if value is None:
        return
    if spec.get("units") != "minor":
        holder[name] = exact_money(value)
        return
    currency_field = spec.get("currency_field", DEFAULT_CURRENCY_FIELD)
    currency = holder.get(currency_field, record.get(currency_field))
    minor = whole_minor_units(value)
    holder[name] = major_units(minor, currency)
    holder[name + MINOR_UNITS_SUFFIX] = minor


def exact_money(
    value: Any, scale: int = DEFAULT_SCALE, precision: int = DEFAULT_PRECISION
) -> Decimal:
    """Reads an amount from a string, an int or a Decimal without passing through a float.

    Raises ValueError for anything that is not a finite number, and for an amount with more
    digits than the column holds, rather than letting the database round it.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, str) and not DECIMAL_NUMBER.match(value):
        raise ValueError(f"{value!r} is not an amount")
    amount = Decimal(value.strip() if isinstance(value, str) else value)
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    if amount.is_zero():
        return amount
    exponent = int(amount.as_tuple().exponent)
    if -exponent > scale:
        raise ValueError(f"{value!r} has more than {scale} decimal places; raise `scale`")
    if amount.adjusted() + 1 > precision - scale:
        raise ValueError(f"{value!r} has more than {precision - scale} integer digits")
    return amount


def calendar_date(value: Any) -> date:
    """Reads the calendar date the API sent; a time or a UTC offset after it never moves it."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = CALENDAR_DATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a calendar date")
    return date.fromisoformat(match.group(1))


def record_converter(
    resource: str, columns: dict[str, ColumnSpec], primary_key: str | None
) -> Callable[[Record], Record] | None:
    """Returns a function converting a record's `money` and `date` fields, or None if none."""
    converters: dict[str, Callable[[Any], Any]] = {}
    for name, spec in columns.items():
        if spec["data_type"] == "money":
            converters[name] = partial(
                exact_money,
                scale=spec.get("scale", DEFAULT_SCALE),
                precision=spec.get("precision", DEFAULT_PRECISION),
            )
        elif spec["data_type"] == "date":
            converters[name] = calendar_date
    if not converters:
        return None

    def convert(record: Record) -> Record:
        for name, converter in converters.items():
            value = record.get(name)
            if value is None:
                continue
            try:
                record[name] = converter(value)
            except ValueError as error:
                which = f"{primary_key}={record.get(primary_key)!r}" if primary_key else "a record"
                raise ValueError(f"{resource}, {which}: `{name}`: {error}") from None
        return record

    return convert


def soft_delete_hints(spec: SoftDeleteSpec) -> dict[str, TColumnSchema]:
    """Marks the column that says a record is deleted with dlt's `hard_delete` hint.

    A flag column takes the hint itself; a marker value (a status, say) is turned into a
    true/false `is_deleted` column by `soft_delete_marker`, which takes the hint instead.
    """
    column = DELETED_MARKER_COLUMN if "value" in spec else spec["column"]
    return {column: {"data_type": "bool", "nullable": True, "hard_delete": True}}


def soft_delete_marker(spec: SoftDeleteSpec) -> Callable[[Record], Record] | None:
    """Returns a step adding `is_deleted` where the map names a marker value, else None."""
    if "value" not in spec:
        return None
    column, deleted_value = spec["column"], spec["value"]

    def mark(record: Record) -> Record:
        record[DELETED_MARKER_COLUMN] = record.get(column) == deleted_value
        return record

    return mark
