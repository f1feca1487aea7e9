"""Loads billing records from a billing REST API into DuckDB, and prints what arrived.

    python billing_pipeline.py                 # the API in .dlt/config.toml and secrets.toml
    python billing_pipeline.py --sandbox       # the bundled local sandbox API, no setup
    python billing_pipeline.py --endpoints my_vendor.yaml
"""

import argparse
from collections.abc import Sequence
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from billing import billing_source

PIPELINE_NAME = "billing"
DATASET_NAME = "billing_data"


def make_pipeline() -> dlt.Pipeline:
    """A pipeline that logs its progress every second while it works."""
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination="duckdb",
        dataset_name=DATASET_NAME,
        progress=dlt.progress.log(log_period=1.0, dump_system_stats=False),
    )


def load_everything(pipeline: dlt.Pipeline, **source_args: Any) -> LoadInfo:
    """Loads every resource of the bundled endpoint map."""
    return pipeline.run(billing_source(**source_args))


def load_selected(pipeline: dlt.Pipeline, resources: Sequence[str], **source_args: Any) -> LoadInfo:
    """Loads only the named resources."""
    return pipeline.run(billing_source(**source_args).with_resources(*resources))


def load_with_map(pipeline: dlt.Pipeline, endpoints: str, **source_args: Any) -> LoadInfo:
    """Loads from the API your own endpoint map describes: a YAML path or a bundled map name."""
    return pipeline.run(billing_source(endpoints=endpoints, **source_args))


def print_summary(pipeline: dlt.Pipeline, info: LoadInfo) -> None:
    """Prints rows per table, records and total amount per currency, and the date range."""
    print(f"\nLoaded into {pipeline.destination.destination_name}, dataset {pipeline.dataset_name}:")
    schema = pipeline.default_schema
    tables = [name for name in schema.data_table_names() if not name.startswith("_dlt")]
    with pipeline.sql_client() as client:
        for table in sorted(tables):
            count = client.execute_sql(f"SELECT COUNT(*) FROM {client.make_qualified_table_name(table)}")
            print(f"  {table:<40} {count[0][0]:>10,} rows")

        columns = schema.get_table_columns("billing_records") if "billing_records" in tables else {}
        records = client.make_qualified_table_name("billing_records")
        if {"currency", "amount"} <= columns.keys():
            print("\n  currency      records            total amount")
            rows = client.execute_sql(
                f"SELECT currency, COUNT(*), SUM(amount) FROM {records} GROUP BY 1 ORDER BY 1"
            )
            for currency, count, total in rows:
                print(f"  {currency or '-':<8} {count:>12,} {total:>23,}")
        if "date" in columns:
            first, last = client.execute_sql(f"SELECT MIN(date), MAX(date) FROM {records}")[0]
            print(f"\n  dates from {first} to {last}")
    print(f"\n{len(info.loads_ids)} load package(s) loaded, no failed jobs.")


def run_on_sandbox(size: int) -> None:
    """Starts the bundled sandbox API on 127.0.0.1, loads it, and prints the summary."""
    from billing.sandbox import running_sandbox

    with running_sandbox(size=size) as api:
        print(f"Sandbox billing API with {size:,} records at {api.url}")
        pipeline = make_pipeline()
        info = load_everything(pipeline, base_url=api.url, api_key=api.api_key)
    print_summary(pipeline, info)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", action="store_true", help="load from the bundled local API")
    parser.add_argument("--size", type=int, default=1000, help="records in the sandbox")
    parser.add_argument("--endpoints", help="an endpoint map: a YAML path or a bundled name")
    parser.add_argument("--resources", nargs="+", help="load only these resources")
    args = parser.parse_args(argv)

    if args.sandbox:
        run_on_sandbox(args.size)
        return
    pipeline = make_pipeline()
    source_args = {"endpoints": args.endpoints} if args.endpoints else {}
    if args.resources:
        info = load_selected(pipeline, args.resources, **source_args)
    elif args.endpoints:
        info = load_with_map(pipeline, args.endpoints)
    else:
        info = load_everything(pipeline)
    print_summary(pipeline, info)


if __name__ == "__main__":
    main()
