"""Loads billing records from a billing REST API into DuckDB, and prints what arrived.

python billing_pipeline.py                 # the API in .dlt/config.toml and secrets.toml
python billing_pipeline.py --sandbox       # the bundled local sandbox API, no setup
python billing_pipeline.py --endpoints my_vendor.yaml
python billing_pipeline.py --sandbox --endpoints stripe  # a vendor profile, on a local stand-in
"""

import argparse
from collections.abc import Sequence
from typing import Any

import dlt
from billing import billing_source
from dlt.common.pipeline import LoadInfo

PIPELINE_NAME = "billing"
SANDBOX_PIPELINE_NAME = "billing_sandbox"
DATASET_NAME = "billing_data"


def make_pipeline(pipeline_name: str = PIPELINE_NAME) -> dlt.Pipeline:
    """A pipeline that logs its progress, once a second, while it works."""
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination="duckdb",
        dataset_name=DATASET_NAME,
        progress="log",
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
    destination = pipeline.destination.destination_name
    print(f"\nLoaded into {destination}, dataset {pipeline.dataset_name}:")
    schema = pipeline.default_schema
    tables = sorted(name for name in schema.data_table_names() if not name.startswith("_dlt"))
    with pipeline.sql_client() as client:

        def query(sql: str) -> list[Sequence[Any]]:
            return list(client.execute_sql(sql) or [])

        for table in tables:
            ((count,),) = query(f"SELECT COUNT(*) FROM {client.make_qualified_table_name(table)}")
            print(f"  {table:<40} {count:>10,} rows")

        columns = schema.get_table_columns("billing_records") if "billing_records" in tables else {}
        records = client.make_qualified_table_name("billing_records")
        if {"currency", "amount"} <= columns.keys():
            print("\n  currency      records            total amount")
            sql = f"SELECT currency, COUNT(*), SUM(amount) FROM {records} GROUP BY 1 ORDER BY 1"
            for currency, count, total in query(sql):
                print(f"  {currency or '-':<8} {count:>12,} {total.normalize():>23,f}")
        if "date" in columns:
            ((first, last),) = query(f"SELECT MIN(date), MAX(date) FROM {records}")
            print(f"\n  dates from {first} to {last}")
    print(f"\n{len(info.loads_ids)} load package(s) loaded, no failed jobs.")


def run_on_sandbox(size: int) -> None:
    """Starts the bundled sandbox API on 127.0.0.1, loads it afresh, and prints the summary."""
    from billing.sandbox import running_sandbox

    with running_sandbox(size=size) as api:
        print(f"Sandbox billing API with {size:,} records at {api.url}")
        pipeline = make_pipeline(SANDBOX_PIPELINE_NAME).drop()  # forget earlier sandbox runs
        info = load_everything(pipeline, base_url=api.url, api_key=api.api_key)
    print_summary(pipeline, info)


def run_profile_on_sandbox(vendor: str, size: int) -> None:
    """Loads a vendor profile from a local stand-in for that vendor's API."""
    from billing.vendor_sandbox import running_vendor_sandbox

    with running_vendor_sandbox(vendor, size=size) as api:
        print(f"Sandbox {vendor} API with {size:,} records per resource at {api.url}")
        pipeline = make_pipeline(f"{SANDBOX_PIPELINE_NAME}_{vendor}").drop()
        info = load_with_map(pipeline, vendor, base_url=api.url, api_key=api.api_key)
    print_summary(pipeline, info)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", action="store_true", help="load from the bundled local API")
    parser.add_argument("--size", type=int, default=1000, help="records in the sandbox")
    parser.add_argument("--endpoints", help="an endpoint map: a YAML path or a bundled name")
    parser.add_argument("--resources", nargs="+", help="load only these resources")
    args = parser.parse_args(argv)

    if args.sandbox and args.endpoints:
        from billing.vendor_sandbox import VENDORS

        if args.endpoints not in VENDORS:
            parser.error(f"--sandbox --endpoints takes a vendor profile: {', '.join(VENDORS)}")
        run_profile_on_sandbox(args.endpoints, args.size)
        return
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
