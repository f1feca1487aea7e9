"""Pipe steps that hand dlt arrow tables instead of records: pages are gathered into batches,
and each batch is split into the root table and one table per nested list, so dlt writes
parquet while it extracts and has no rows left to normalize one by one."""

from collections.abc import Callable, Iterator
from typing import Any

import dlt
import pyarrow as pa
from dlt.common import logger
from dlt.common.schema import Schema
from dlt.common.schema.utils import new_table
from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable
from dlt.extract import DltResource
from dlt.extract.items_transform import ItemTransform

from .arrow_tables import PageShapeError, RecordSplitter, nested_hints
from .columns import Record

BATCH_RECORDS = 5_000

RecordConverter = Callable[[Record], Record]


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


class PageTables(ItemTransform[Any, dict[str, Any]]):
    """A pipe step that turns a batch of records into one arrow table per table of the result.

    dlt's relational normalizer handles every row in Python after extract; at 100,000
    records with line items that was half of a load's time. `RecordSplitter` makes the same
    tables column by column. A batch it cannot type consistently (a field that is a number
    in one record and text in another, say) passes on as records, converted by `convert`,
    and dlt's normalizer takes it as it always does.
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
        self.merge = resource.write_disposition == "merge"
        self._splitter: RecordSplitter | None = None
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
            tables = self.splitter().split(batch, load_id)
        except PageShapeError as error:
            logger.info(f"{self.table}: a batch goes through dlt's normalizer: {error}")
            return self._records(batch)
        return self._marked(tables)

    def splitter(self) -> RecordSplitter:
        """The splitter for this resource, made with the naming of the schema being extracted."""
        if self._splitter is None:
            schema = dlt.current.source_schema()
            columns = self.resource.columns if isinstance(self.resource.columns, dict) else {}
            self._splitter = RecordSplitter(
                self.table,
                columns,
                self.primary_key,
                self.merge,
                schema.naming,
                "iso_timestamp" in (schema.settings.get("detections") or ()),
            )
        return self._splitter

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

    def _marked(self, tables: dict[str, pa.Table]) -> Iterator[Any]:
        assert self._splitter is not None
        for name, table in tables.items():
            if name == self.table:
                yield table
                continue
            if name not in self._declared:
                self._declare(name, self._splitter.parents[name])
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
