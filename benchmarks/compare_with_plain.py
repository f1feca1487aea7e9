"""Loads the sandbox with this source and with the plain rest_api config; prints time and memory.

    .venv/bin/python benchmarks/compare_with_plain.py --records 100000 --latency-ms 20

The sandbox runs in a process of its own; each load runs in a fresh process into a fresh
DuckDB file with a default `dlt.pipeline(destination="duckdb")`, and its peak RSS is that
process's high-water mark. Both loads must hold the same rows with the same exact amounts:
a digest of every (id, amount), amounts read as DECIMAL(38, 9), is compared: the sum of
the rows' hashes, which needs no order and no memory that grows with the rows.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
API_KEY = "benchmark-key-5d1f"


def plain_config(base_url: str, api_key: str) -> Any:
    """The integration document's rest_api_source config, as written there."""
    from dlt.sources.rest_api import rest_api_source

    return rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "auth": {
                    "type": "api_key",
                    "name": "api_key",
                    "api_key": api_key,
                    "location": "query",
                },
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [
                {
                    "name": "billing_records",
                    "endpoint": {
                        "path": "/v1/billing",
                        "data_selector": "data",
                        "paginator": {"type": "offset", "limit": 100},
                    },
                }
            ],
        }
    )


def load_once(kind: str, base_url: str) -> dict[str, Any]:
    """Runs one load in this process and fingerprints what it loaded."""
    import dlt

    sys.path.insert(0, str(REPO / "sources"))
    from billing import billing_source

    pipeline = dlt.pipeline(pipeline_name=f"bench_{kind}", destination="duckdb")
    started = time.perf_counter()
    if kind == "billing":
        pipeline.run(billing_source(base_url=base_url, api_key=API_KEY))
    else:
        pipeline.run(plain_config(base_url, API_KEY))
    seconds = time.perf_counter() - started
    loaded_at = time.time()

    formats = {
        job.job_file_info.file_format
        for job in pipeline.last_trace.last_load_info.load_packages[0].jobs["completed_jobs"]
    }
    with pipeline.sql_client() as client:
        ((rows, digest),) = client.execute_sql(
            "SELECT COUNT(*), CAST(SUM(CAST(hash(CAST(id AS VARCHAR),"
            " CAST(CAST(amount AS DECIMAL(38, 9)) AS VARCHAR)) AS HUGEINT)) AS VARCHAR)"
            " FROM billing_records"
        )
        ((items,),) = client.execute_sql("SELECT COUNT(*) FROM billing_records__line_items")
    return {
        "seconds": seconds,
        "loaded_at": loaded_at,
        "rows": rows,
        "items": items,
        "digest": digest,
        "formats": "+".join(sorted(formats)),
    }


def measure(kind: str, base_url: str, workdir: Path) -> dict[str, Any]:
    """Runs `load_once` in a fresh process; adds its wall time and peak RSS.

    The wall time runs from starting the process to the end of `pipeline.run`: the
    interpreter, the imports and the load, not the fingerprint taken after it.
    """
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_DATA_DIR": str(workdir / kind)}
    env.pop("DLT_PROJECT_DIR", None)
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, __file__, "--load", kind, "--url", base_url],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"the {kind} load failed (status {status})")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result.update(wall=result["loaded_at"] - started, peak_mb=usage.ru_maxrss / 1024)
    return result


def start_sandbox(records: int, latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    sandbox = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "sources" / "billing" / "sandbox.py"),
            *("--size", str(records), "--latency-ms", str(latency_ms)),
            *("--port", "0", "--api-key", API_KEY),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = sandbox.stdout.readline() if sandbox.stdout else ""
    return sandbox, line.split(" on ")[1].split(" ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--only", choices=("billing", "plain"), help="run one of the two loads")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load_once(args.load, args.url)))
        return

    sandbox, url = start_sandbox(args.records, args.latency_ms)
    try:
        results = {}
        for kind in ("billing", "plain") if args.only is None else (args.only,):
            with tempfile.TemporaryDirectory(prefix=f"bench_{kind}_") as workdir:
                results[kind] = measure(kind, url, Path(workdir))
    finally:
        sandbox.terminate()
        sandbox.wait()

    print(f"{args.records:,} records, {args.latency_ms:g} ms per page")
    header = f"{'load':<8} {'wall s':>8} {'rows/s':>9} {'peak RSS MB':>12} {'rows':>9} {'items':>9}"
    print(f"{header}  files")
    for kind, result in results.items():
        rate = result["rows"] / result["wall"]
        print(
            f"{kind:<8} {result['wall']:>8.1f} {rate:>9,.0f} {result['peak_mb']:>12,.0f}"
            f" {result['rows']:>9,} {result['items']:>9,}  {result['formats']}"
        )
    if len(results) == 2:
        billing, plain = results["billing"], results["plain"]
        same = billing["digest"] == plain["digest"] and billing["items"] == plain["items"]
        print(
            f"plain / billing: {plain['wall'] / billing['wall']:.1f}x the time,"
            f" {plain['peak_mb'] / billing['peak_mb']:.1f}x the memory;"
            f" same rows and exact amounts: {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
