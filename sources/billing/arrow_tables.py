"""Splits a batch of records into arrow tables, the root and one per nested list, with the
columns, types and row links dlt's relational normalizer would give them."""

from collections.abc import Callable
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema.detections import is_iso_timestamp
from dlt.common.schema.typing import TColumnSchema

from .columns import CALENDAR_DATE, DEFAULT_PRECISION, DEFAULT_SCALE, calendar_date, exact_money

ROW_KEY, PARENT_KEY, ROOT_KEY = "_dlt_id", "_dlt_parent_id", "_dlt_root_id"
LIST_INDEX, LOAD_ID = "_dlt_list_idx", "_dlt_load_id"
DEFAULT_DECIMAL = pa.decimal128(DEFAULT_PRECISION, DEFAULT_SCALE)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "double": pa.float64(),
    "text": pa.string(),
    "timestamp": UTC_TIMESTAMP,
}
NOT_PLAIN_MONEY = r"[eE]|\.\d{%d,}"  # exponents and extra places: `exact_money` judges those
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)

Columns = dict[str, pa.Array]


class PageShapeError(ValueError):
    """A batch that does not split into arrow tables; dlt's own normalizer takes it."""


def _key_column(name: str, data_type: str = "text", **hints: bool) -> TColumnSchema:
    column: TColumnSchema = {"name": name, "data_type": data_type, "nullable": False}  # type: ignore[typeddict-item]
    column.update(hints)  # type: ignore[typeddict-item]
    return column


def root_hints() -> list[TColumnSchema]:
    """Hints for the system columns of the root table."""
    return [_key_column(ROW_KEY, row_key=True, unique=True), _key_column(LOAD_ID)]


def nested_hints(merge: bool) -> list[TColumnSchema]:
    """Hints for the system columns of a table made from a nested list."""
    columns = [
        _key_column(ROW_KEY, row_key=True, unique=True),
        _key_column(PARENT_KEY, parent_key=True),
        _key_column(LIST_INDEX, "bigint"),
    ]
    if merge:
        columns.append(_key_column(ROOT_KEY, root_key=True))
    return columns


def by_name(columns: list[TColumnSchema]) -> dict[str, TColumnSchema]:
    return {str(column.get("name")): column for column in columns}


class RecordSplitter:
    """Splits records of one resource into its root table and one table per nested list.

    Nested objects become `parent__child` columns, nested lists child tables linked by
    `_dlt_parent_id`, `_dlt_list_idx` and, for merge, `_dlt_root_id`. A root row's
    `_dlt_id` is random, as dlt makes it; a nested row's is its parent's and its position.
    Arrow infers the type of each nested value column by column; money and dates are read
    exactly as `columns.py` reads them, typed columns get their arrow type, and ISO
    timestamps are detected as dlt detects them. A field that holds values of more than
    one type raises `PageShapeError`.
    """

    def __init__(
        self,
        table: str,
        columns: dict[str, TColumnSchema],
        primary_key: str | None,
        merge: bool,
        naming: NamingConvention,
        detect_timestamps: bool,
    ) -> None:
        self.table = table
        self.columns = {**columns, **by_name(root_hints())}
        self.primary_key = primary_key
        self.merge = merge
        self.naming = naming
        self.detect_timestamps = detect_timestamps
        self.nested_columns = by_name(nested_hints(merge))
        self.parents: dict[str, str] = {}  # nested table: its parent table
        self._names: dict[tuple[str, str], str] = {}
        self._ids: pa.Array | None = None  # the batch's primary keys, for error messages

    def split(self, records: list[dict[str, Any]], load_id: str) -> dict[str, pa.Table]:
        """Splits records into arrow tables by table name, the root table first."""
        try:
            batch = pa.array(records)
        except ARROW_ERRORS as error:
            raise PageShapeError(f"a field does not fit one arrow type: {error}") from None
        tables: dict[str, Columns] = {self.table: {}}
        row_ids = pa.array(generate_dlt_ids(len(records)), pa.string())
        key = self.primary_key
        self._ids = batch.field(key) if key and batch.type.get_field_index(key) >= 0 else None

        self._add_nested(tables, self.table, "", batch, row_ids, row_ids)
        root = tables[self.table]
        root[ROW_KEY] = row_ids
        root[LOAD_ID] = pa.array([load_id] * len(records), pa.string())
        return {name: self._table(name, columns) for name, columns in tables.items()}

    def _name(self, prefix: str, key: str) -> str:
        name = self._names.get((prefix, key))
        if name is None:
            normalized = self.naming.normalize_identifier(key)
            name = self.naming.shorten_fragments(prefix, normalized) if prefix else normalized
            self._names[(prefix, key)] = name
        return name

    def _add_nested(
        self,
        tables: dict[str, Columns],
        table: str,
        name: str,
        array: pa.Array,
        row_ids: pa.Array,
        root_ids: pa.Array,
    ) -> None:
        """Adds an object's fields as columns of `table`, a list as a table of its own."""
        if pa.types.is_struct(array.type):
            for field, child in zip(array.type, array.flatten(), strict=True):
                child_name = self._name(name, field.name)
                self._add_nested(tables, table, child_name, child, row_ids, root_ids)
            return
        if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            self._add_list(tables, table, name, array, row_ids, root_ids)
            return
        columns = tables[table]
        if name in columns:
            raise PageShapeError(f"two fields are both named `{name}`")
        typed = table == self.table and self.columns.get(name, {}).get("data_type")
        columns[name] = self._typed(name, array) if typed else self._inferred(table, name, array)

    def _add_list(
        self,
        tables: dict[str, Columns],
        parent: str,
        name: str,
        lists: pa.Array,
        parent_ids: pa.Array,
        root_ids: pa.Array,
    ) -> None:
        table = self.naming.shorten_fragments(parent, name)  # `name`: fragments, normalized
        if table in tables:
            raise PageShapeError(f"two lists are both named `{table}`")
        self.parents[table] = parent
        columns: Columns = tables.setdefault(table, {})

        elements = lists.flatten()
        owners = pc.list_parent_indices(lists)
        lengths = pc.fill_null(pc.list_value_length(lists), 0)
        starts = pc.subtract(pc.cumulative_sum(lengths), lengths)
        indices = pa.array(range(len(elements)), pa.int64())
        positions = pc.cast(pc.subtract(indices, pc.take(starts, owners)), pa.int64())
        parents = pc.take(parent_ids, owners)
        row_ids = pc.binary_join_element_wise(parents, pc.cast(positions, pa.string()), "_")
        roots = pc.take(root_ids, owners)

        if pa.types.is_struct(elements.type):
            self._add_nested(tables, table, "", elements, row_ids, roots)
        elif pa.types.is_list(elements.type) or pa.types.is_large_list(elements.type):
            raise PageShapeError(f"`{table}` holds lists")
        elif len(elements):
            columns["value"] = self._inferred(table, "value", elements)
        columns[ROW_KEY], columns[PARENT_KEY] = row_ids, parents
        columns[LIST_INDEX] = positions
        if self.merge:
            columns[ROOT_KEY] = roots

    def _table(self, name: str, columns: Columns) -> pa.Table:
        hints = self.columns if name == self.table else self.nested_columns
        key = self.primary_key if name == self.table else None  # dlt makes it non-null
        fields = [
            pa.field(
                column,
                array.type,
                nullable=column != key and hints.get(column, {}).get("nullable", True),
            )
            for column, array in columns.items()
        ]
        return pa.Table.from_arrays(list(columns.values()), schema=pa.schema(fields))

    def _typed(self, column: str, array: pa.Array) -> pa.Array:
        """A root column with the type the map gives it."""
        hint = self.columns[column]
        data_type = hint.get("data_type")
        if data_type == "decimal":
            return self._money(column, array, hint)
        if data_type == "date":
            return self._dates(column, array)
        return _cast(array, ARROW_TYPES[str(data_type)], self.table, column)

    def _inferred(self, table: str, column: str, array: pa.Array) -> pa.Array:
        """An untyped column as dlt would type it: decimals at its default precision,
        ISO timestamps as timestamps."""
        if pa.types.is_decimal(array.type):
            return _cast(array, DEFAULT_DECIMAL, table, column)
        if pa.types.is_string(array.type) and self._looks_like_timestamp(array):
            return _cast(array, UTC_TIMESTAMP, table, column)
        return array

    def _money(self, column: str, array: pa.Array, hint: TColumnSchema) -> pa.Array:
        precision, scale = hint.get("precision"), hint.get("scale")
        precision = DEFAULT_PRECISION if precision is None else precision
        scale = DEFAULT_SCALE if scale is None else scale
        arrow_type = pa.decimal128(precision, scale)
        kind = array.type
        try:
            if pa.types.is_string(kind):
                not_plain = NOT_PLAIN_MONEY % (scale + 1)
                if not pc.any(pc.match_substring_regex(array, not_plain)).as_py():
                    return array.cast(arrow_type)  # exact: arrow refuses to round
            elif _casts_exactly(kind, precision, scale):
                return array.cast(arrow_type)
        except pa.ArrowInvalid:
            pass  # `exact_money` below says which value is wrong and why
        exact = partial(exact_money, scale=scale, precision=precision)
        return pa.array(self._each(column, array, exact), arrow_type)

    def _dates(self, column: str, array: pa.Array) -> pa.Array:
        if pa.types.is_string(array.type):
            dated = pc.match_substring_regex(array, CALENDAR_DATE.pattern)
            if pc.all(dated).as_py() is not False:
                try:
                    return pc.utf8_slice_codeunits(array, 0, 10).cast(pa.date32())
                except pa.ArrowInvalid:
                    pass  # `calendar_date` below says which value is wrong and why
        if pa.types.is_null(array.type):
            return array.cast(pa.date32())
        return pa.array(self._each(column, array, calendar_date), pa.date32())

    def _each(self, column: str, array: pa.Array, convert: Callable[[Any], Any]) -> list[Any]:
        """Converts values one by one; an error names the record by its primary key."""
        converted = []
        for index, value in enumerate(array.to_pylist()):
            try:
                converted.append(None if value is None else convert(value))
            except ValueError as error:
                key, ids = self.primary_key, self._ids
                which = f"{key}={ids[index].as_py()!r}" if ids is not None else "a record"
                raise ValueError(f"{self.table}, {which}: `{column}`: {error}") from None
        return converted

    def _looks_like_timestamp(self, array: pa.Array) -> bool:
        if not self.detect_timestamps:
            return False
        present = array.drop_null()
        first = present[0].as_py() if len(present) else None
        return is_iso_timestamp(str, first) is not None


def _casts_exactly(kind: pa.DataType, precision: int, scale: int) -> bool:
    """Whether every value of arrow type `kind` fits a decimal of `precision` and `scale`
    as it is, so that a cast has nothing to refuse and `exact_money` nothing to say."""
    if pa.types.is_decimal(kind):
        return bool(kind.scale <= scale and kind.precision - kind.scale <= precision - scale)
    return bool(pa.types.is_integer(kind) or pa.types.is_null(kind))


def _cast(array: pa.Array, arrow_type: pa.DataType, table: str, column: str) -> pa.Array:
    try:
        return array.cast(arrow_type)
    except ARROW_ERRORS as error:
        raise PageShapeError(f"`{table}.{column}` is not {arrow_type}: {error}") from None
