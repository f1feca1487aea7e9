"""Counts the API requests of successive loads from the sandbox, with and without incremental.

.venv/bin/python benchmarks/requests_per_run.py --size 10000 --changed 50
"""

import argparse
import copy
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import dlt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sources"))

from billing import billing_source
from billing.endpoint_map import load_endpoint_map
from billing.sandbox import SandboxAPI, running_sandbox


def full_reload_map() -> dict[str, Any]:
    """The bundled map without `incremental`: every run reads everything."""
    endpoint_map = copy.deepcopy(dict(load_endpoint_map("endpoints").spec))
    for resource in endpoint_map["resources"]:
        resource["endpoint"].pop("incremental", None)
    return endpoint_map


def requests_of_three_runs(api: SandboxAPI, endpoints: Any, changed: int, name: str) -> list[int]:
    """Requests of: a first run, a rerun on unchanged data, a run after `changed` updates."""
    pipeline = dlt.pipeline(pipeline_name=name, destination="duckdb", dataset_name="billing_data")
    counts = []
    for step in ("first", "unchanged", "changed"):
        if step == "changed":
            for record in api.records[:changed]:
                api.update(record["id"], description="changed")
        before = len(api.requests)
        pipeline.run(billing_source(base_url=api.url, api_key=api.api_key, endpoints=endpoints))
        counts.append(len(api.requests) - before)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="records in the sandbox")
    parser.add_argument("--changed", type=int, default=50, help="records changed before run 3")
    args = parser.parse_args()
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.chdir(tempfile.mkdtemp(prefix="billing_requests_"))
    os.environ["DLT_DATA_DIR"] = os.getcwd()

    rows = []
    for label, endpoints in (("full reload", full_reload_map()), ("incremental", "endpoints")):
        with running_sandbox(size=args.size) as api:
            rows.append(
                (
                    label,
                    requests_of_three_runs(api, endpoints, args.changed, label.replace(" ", "_")),
                )
            )

    print(f"{args.size:,} records, {args.changed} changed before the third run")
    print(f"{'':<12} {'first run':>10} {'unchanged':>10} {'changed':>10}")
    for label, counts in rows:
        print(f"{label:<12} " + " ".join(f"{count:>10}" for count in counts))


if __name__ == "__main__":
    main()
