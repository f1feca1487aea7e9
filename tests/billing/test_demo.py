"""The demo script against the sandbox: it loads, and its summary tells the truth."""

import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from sources.billing.sandbox import make_records

DEMO = Path(__file__).resolve().parents[2] / "sources" / "billing_pipeline.py"
SIZE, SEED = 300, 7  # the demo's sandbox uses seed 7


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DLT_PROJECT_DIR"}
    return subprocess.run(
        [sys.executable, str(DEMO), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sandbox_demo_prints_a_true_summary(tmp_path: Path) -> None:
    records = make_records(SIZE, SEED)

    result = run_demo(tmp_path, "--sandbox", "--size", str(SIZE))

    assert result.returncode == 0, result.stderr
    out = result.stdout
    line_items = sum(len(record["line_items"]) for record in records)
    assert re.search(rf"billing_records\s+{SIZE:,} rows", out)
    assert re.search(rf"billing_records__line_items\s+{line_items:,} rows", out)
    for currency in {record["currency"] for record in records}:
        mine = [Decimal(r["amount"]) for r in records if r["currency"] == currency]
        total = sum(mine, Decimal(0)).normalize()
        assert re.search(rf"{currency}\s+{len(mine):,}\s+{re.escape(f'{total:,f}')}\n", out), (
            currency
        )
    days = [date.fromisoformat(record["date"][:10]) for record in records]
    assert f"dates from {min(days)} to {max(days)}" in out
    assert (tmp_path / "billing_sandbox.duckdb").exists()


def test_sandbox_demo_runs_again_from_scratch(tmp_path: Path) -> None:
    first = run_demo(tmp_path, "--sandbox", "--size", "50")
    second = run_demo(tmp_path, "--sandbox", "--size", "50")

    assert first.returncode == second.returncode == 0, second.stderr
    assert re.search(r"billing_records\s+50 rows", second.stdout)


def test_demo_output_never_shows_the_key(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "--sandbox", "--size", "120")

    assert result.returncode == 0, result.stderr
    assert "sandbox-key" not in result.stdout + result.stderr


def test_sandbox_demo_loads_a_vendor_profile(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "--sandbox", "--endpoints", "chargebee", "--size", "40")

    assert result.returncode == 0, result.stderr
    for table in ("customers", "invoices", "subscriptions", "transactions"):
        assert re.search(rf"\n  {table}\s+40 rows", result.stdout), table
    assert re.search(r"invoices__line_items\s+\d+ rows", result.stdout)
