"""Turns batches of records into arrow tables, the root and one per nested list, so dlt
writes parquet while it extracts and has no rows left to normalize one by one."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common import logger
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema import Schema
from dlt.common.schema.detections import is_iso_timestamp
from dlt.common.schema.typing import TColumnSchema
from dlt.common.schema.utils import new_table
from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable
from dlt.extract import DltResource
from dlt.extract.items_transform import ItemTransform

from .columns import CALENDAR_DATE, Record, calendar_date, exact_money

BATCH_RECORDS = 5_000
ROW_KEY, PARENT_KEY, ROOT_KEY = "_dlt_id", "_dlt_parent_id", "_dlt_root_id"
LIST_INDEX, LOAD_ID = "_dlt_list_idx", "_dlt_load_id"
DEFAULT_DECIMAL = pa.decimal128(38, 9)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "double": pa.float64(),
    "text": pa.string(),
    "timestamp": UTC_TIMESTAMP,
}
NOT_PLAIN_MONEY = r"[eE]|\.\d{%d,}"  # exponents and extra places: `exact_money` judges those

RecordConverter = Callable[[Record], Record]


class PageShapeError(ValueError):
    """A batch this module does not turn into arrow tables; dlt's own normalizer takes it."""


class PageBatches(ItemTransform[Any, dict[str, Any]]):
    """A pipe step that gathers pages into batches of about `size` records.

    dlt checks the table schema again for every arrow table it is given, some 10 ms each; a
    table per page of 100 records would spend more time there than in reading the API. The
    step goes right after the request step, where each page still carries its paginator, so
    the last page is known even when dlt's incremental filters all of its records out.
    """

    def __init__(self, size: int = BATCH_RECORDS) -> None:
        super().__init__(lambda item: item)
        self.size = size
        self._batch: list[Record] = []

    def __call__(self, item: Any, meta: Any = None) -> Any:
        """Returns a batch when it is full or the pages end, else None (the page is kept)."""
        if not isinstance(item, list):
            return self._flush(item)
        self._batch.extend(item)
        paginator = getattr(item, "paginator", None)
        last_page = paginator is None or not paginator.has_next_page
        if last_page or len(self._batch) >= self.size:
            return self._flush()
        return None

    def _flush(self, *items: Any) -> Any:
        batch, self._batch = self._batch, []
        if not items:
            return batch
        return [*batch, *items] if batch else items[0]


def _key_column(name: str, data_type: str = "text", **hints: bool) -> TColumnSchema:
    column: TColumnSchema = {"name": name, "data_type": data_type, "nullable": False}  # type: ignore[typeddict-item]
    column.update(hints)  # type: ignore[typeddict-item]
    return column


def root_hints() -> list[TColumnSchema]:
    """Hints for the system columns the root table gets from `PageTables`."""
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


def _by_name(columns: list[TColumnSchema]) -> dict[str, TColumnSchema]:
    return {str(column.get("name")): column for column in columns}


@dataclass
class _Table:
    columns: dict[str, list[Any]] = field(default_factory=dict)


class PageTables(ItemTransform[Any, dict[str, Any]]):
    """A pipe step that turns a batch of records into one arrow table per table of the result.

    dlt's relational normalizer handles every row in Python after extract; at 100,000
    records with line items that was half of a load's time. This step makes the same tables
    column by column: nested dicts are flattened into `parent__child` columns, nested lists
    become child tables linked by `_dlt_parent_id`, `_dlt_list_idx` and, for merge,
    `_dlt_root_id`. A root row's `_dlt_id` is random, as dlt makes it; a nested row's is its
    parent's and its position. Money and dates are read exactly as `columns.py` reads them,
    other typed columns get their arrow type, and untyped ones are inferred, ISO timestamps
    detected as dlt detects them.

    A batch it cannot type consistently (a field that is a number in one record and text in
    another, say) passes on as records, converted by `convert`, and dlt's normalizer takes
    it as it always does.
    """

    # after dlt's incremental (1) and item limit (1.1), which read records, not tables
    placement_affinity = 1.5

    def __init__(
        self, resource: DltResource, convert: RecordConverter | None, primary_key: str | None
    ) -> None:
        super().__init__(lambda item: item)
        self.resource = resource
        self.table = resource.name
        self.convert = convert
        self.primary_key = primary_key
        columns = resource.columns if isinstance(resource.columns, dict) else {}
        self.columns: dict[str, TColumnSchema] = {**columns, **_by_name(root_hints())}
        self.merge = resource.write_disposition == "merge"
        self._nested_columns = _by_name(nested_hints(self.merge))
        self._naming: NamingConvention | None = None
        self._names: dict[str, dict[str, str]] = {}
        self._detect_timestamps = True
        self._parents: dict[str, str] = {}
        self._declared: set[str] = set()
        self._schema: Schema | None = None

    def __call__(self, item: Any, meta: Any = None) -> Any:
        """Returns the batch's tables, or the batch itself when it is not a list of records."""
        batch = item if isinstance(item, list) else [item]
        if not batch or not all(type(record) is dict for record in batch):
            return item
        load_id = _current_load_id()
        if load_id is None:  # read outside a pipeline, as `list(resource)`: records it is
            return self._records(batch)
        try:
            tables = self.split(batch, load_id)
        except PageShapeError as error:
            logger.info(f"{self.table}: a batch goes through dlt's normalizer: {error}")
            return self._records(batch)
        return self._marked(tables)

    def split(self, records: list[Record], load_id: str) -> dict[str, pa.Table]:
        """Splits records into arrow tables by table name, the root table first."""
        self._setup()
        tables = {self.table: _Table()}
        row_ids = generate_dlt_ids(len(records))
        self._add_records(tables, self.table, records, row_ids, row_ids)
        root = tables[self.table].columns
        root[ROW_KEY] = row_ids
        root[LOAD_ID] = [load_id] * len(records)
        return {name: self._arrow(name, table) for name, table in tables.items()}

    def _records(self, batch: list[Record]) -> list[Record]:
        return [self.convert(record) for record in batch] if self.convert else batch

    @property
    def custom_metrics(self) -> dict[str, Any]:
        """dlt reads this right after it has grouped the extract metrics by resource.

        dlt refuses a nested table that names a resource in any later schema merge, so the
        resource each nested table was given in `_declare` is taken back here.
        """
        if self._schema is not None:
            for name in self._declared:
                self._schema.tables.get(name, {}).pop("resource", None)
            self._declared.clear()
            self._schema = None
        return self._custom_metrics

    def _setup(self) -> None:
        if self._naming is None:
            schema = dlt.current.source_schema()
            self._naming = schema.naming
            self._detect_timestamps = "iso_timestamp" in (schema.settings.get("detections") or ())

    def _name(self, scope: str, prefix: str, key: str) -> str:
        names = self._names.setdefault(scope, {})
        name = names.get(key)
        if name is None:
            assert self._naming is not None
            normalized = self._naming.normalize_identifier(key)
            name = self._naming.shorten_fragments(prefix, normalized) if prefix else normalized
            names[key] = name
        return name

    def _add_records(
        self,
        tables: dict[str, _Table],
        table: str,
        records: list[Record],
        row_ids: list[str],
        root_ids: list[str],
    ) -> None:
        lists: list[tuple[str, list[Any]]] = []
        self._flatten(records, "", tables[table].columns, lists)
        for name, values in lists:
            self._add_list(tables, table, name, values, row_ids, root_ids)

    def _flatten(
        self,
        records: list[Record],
        prefix: str,
        columns: dict[str, list[Any]],
        lists: list[tuple[str, list[Any]]],
    ) -> None:
        for key in dict.fromkeys(key for record in records for key in record):
            name = self._name(prefix, prefix, key)
            values = [record.get(key) for record in records]
            kinds = {type(value) for value in values} - {type(None)}
            if not kinds & {dict, list}:
                if name in columns:
                    raise PageShapeError(f"two fields are both named `{name}`")
                columns[name] = values
            elif kinds == {dict}:
                self._flatten([value or {} for value in values], name, columns, lists)
            elif kinds == {list}:
                lists.append((name, values))
            else:
                raise PageShapeError(f"`{name}` is a list or an object in some records only")

    def _add_list(
        self,
        tables: dict[str, _Table],
        parent: str,
        name: str,
        values: list[Any],
        parent_ids: list[str],
        root_ids: list[str],
    ) -> None:
        table = self._name(f"{parent}[]", parent, name)
        if table in tables:
            raise PageShapeError(f"two lists are both named `{table}`")
        tables[table] = _Table()
        self._parents[table] = parent
        elements: list[Any] = []
        parents: list[str] = []
        roots: list[str] = []
        positions: list[int] = []
        for items, parent_id, root_id in zip(values, parent_ids, root_ids, strict=True):
            if items:
                elements.extend(items)
                parents.extend([parent_id] * len(items))
                roots.extend([root_id] * len(items))
                positions.extend(range(len(items)))
        row_ids = [
            f"{parent}_{position}" for parent, position in zip(parents, positions, strict=True)
        ]

        kinds = {type(element) for element in elements} - {type(None)}
        if kinds == {dict}:
            self._add_records(tables, table, [item or {} for item in elements], row_ids, roots)
        elif kinds & {dict, list}:
            raise PageShapeError(f"`{table}` holds lists or a mix of objects and values")
        elif elements:
            tables[table].columns["value"] = elements
        columns = tables[table].columns
        columns[ROW_KEY], columns[PARENT_KEY], columns[LIST_INDEX] = row_ids, parents, positions
        if self.merge:
            columns[ROOT_KEY] = roots

    def _arrow(self, name: str, table: _Table) -> pa.Table:
        hints = self.columns if name == self.table else self._nested_columns
        arrays, fields = [], []
        for column, values in table.columns.items():
            hint = hints.get(column, {})
            array = self._array(name, column, values, hint, table.columns)
            arrays.append(array)
            fields.append(pa.field(column, array.type, nullable=hint.get("nullable", True)))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def _array(
        self,
        table: str,
        column: str,
        values: list[Any],
        hint: TColumnSchema,
        columns: dict[str, list[Any]],
    ) -> pa.Array:
        data_type = hint.get("data_type")
        if data_type == "decimal":
            return self._money(column, values, hint, columns)
        if data_type == "date":
            return self._dates(column, values, columns)
        try:
            array = pa.array(values, type=ARROW_TYPES.get(data_type or ""))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
            problem = f"`{table}.{column}` does not fit one arrow type: {error}"
            raise PageShapeError(problem) from None
        if data_type:
            return array
        if pa.types.is_decimal(array.type):
            return _cast(array, DEFAULT_DECIMAL, table, column)
        if pa.types.is_string(array.type) and self._looks_like_timestamp(values):
            return _cast(array, UTC_TIMESTAMP, table, column)
        return array

    def _money(
        self, column: str, values: list[Any], hint: TColumnSchema, columns: dict[str, list[Any]]
    ) -> pa.Array:
        precision, scale = hint.get("precision"), hint.get("scale")
        precision, scale = 38 if precision is None else precision, 9 if scale is None else scale
        arrow_type = pa.decimal128(precision, scale)
        not_plain = NOT_PLAIN_MONEY % (scale + 1)
        kinds = {type(value) for value in values} - {type(None)}
        try:
            if kinds <= {str}:
                strings = pa.array(values, pa.string())
                if not pc.any(pc.match_substring_regex(strings, not_plain)).as_py():
                    return strings.cast(arrow_type)  # exact: arrow refuses to round
            elif kinds <= {int}:
                return pa.array(values, arrow_type)
        except pa.ArrowInvalid:
            pass  # `exact_money` below says which value is wrong and why
        amounts = self._each(column, values, columns, exact_money, precision=precision, scale=scale)
        return pa.array(amounts, arrow_type)

    def _dates(self, column: str, values: list[Any], columns: dict[str, list[Any]]) -> pa.Array:
        if {type(value) for value in values} <= {str, type(None)}:
            strings = pa.array(values, pa.string())
            dated = pc.match_substring_regex(strings, CALENDAR_DATE.pattern)
            if pc.all(dated).as_py() is not False:
                try:
                    return pc.utf8_slice_codeunits(strings, 0, 10).cast(pa.date32())
                except pa.ArrowInvalid:
                    pass  # `calendar_date` below says which value is wrong and why
        return pa.array(self._each(column, values, columns, calendar_date), pa.date32())

    def _each(
        self,
        column: str,
        values: list[Any],
        columns: dict[str, list[Any]],
        convert: Callable[..., Any],
        **options: Any,
    ) -> list[Any]:
        converted = []
        for index, value in enumerate(values):
            try:
                converted.append(None if value is None else convert(value, **options))
            except ValueError as error:
                key = self.primary_key
                which = f"{key}={columns[key][index]!r}" if key in columns else "a record"
                raise ValueError(f"{self.table}, {which}: `{column}`: {error}") from None
        return converted

    def _looks_like_timestamp(self, values: list[Any]) -> bool:
        first = next((value for value in values if value is not None), None)
        return self._detect_timestamps and is_iso_timestamp(str, first) is not None

    def _marked(self, tables: dict[str, pa.Table]) -> Iterator[Any]:
        for name, table in tables.items():
            if name == self.table:
                yield table
                continue
            if name not in self._declared:
                self._declare(name, self._parents[name])
            yield dlt.mark.with_table_name(table, name)

    def _declare(self, name: str, parent: str) -> None:
        # Not `dlt.mark.with_hints(..., create_table_variant=True)`: dlt starts a variant as a
        # copy of the root table's hints, and a nested table must not take the root's primary
        # key, typed columns or soft-delete column. This sets the variant's hints alone.
        hints = dlt.mark.make_hints(
            table_name=name, parent_table_name=parent, columns=nested_hints(self.merge)
        )
        self.resource._set_hints(hints, create_table_variant=True)
        # dlt's extract metrics look up the resource of every table written at extract, and a
        # nested table names none; it names one until the metrics are read (`custom_metrics`).
        schema = self._schema = dlt.current.source_schema()
        if name not in schema.tables:  # without columns, so that it still counts as new
            schema.update_table(new_table(name, parent_table_name=parent))
        schema.tables[name]["resource"] = self.table
        self._declared.add(name)


def _current_load_id() -> str | None:
    try:
        return dlt.current.load_package_state()["load_id"]
    except CurrentLoadPackageStateNotAvailable:
        return None


def _cast(array: pa.Array, arrow_type: pa.DataType, table: str, column: str) -> pa.Array:
    try:
        return array.cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise PageShapeError(f"`{table}.{column}` is not {arrow_type}: {error}") from None
