"""Reliability: random fault mixes, runs killed with SIGKILL, and the request budget.

Every load here goes over real HTTP to the bundled sandbox. The fault mixes come from fixed
seeds, and each test id says what its seed is expected to end with, so a failing seed can
be run again on its own, e.g. `pytest tests/billing/test_reliability.py -k seed3`.
"""

import copy
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sources.billing import billing_source
from sources.billing.sandbox import Fault, RequestLog, SandboxAPI, running_sandbox

from ..utils import ALL_DESTINATIONS, assert_load_info
from .conftest import fast_retry_map

Record = dict[str, Any]


def load(pipeline: dlt.Pipeline, api: SandboxAPI, endpoint_map: dict[str, Any]) -> None:
    info = pipeline.run(
        billing_source(base_url=api.url, api_key=api.api_key, endpoints=endpoint_map)
    )
    assert_load_info(info)


@dataclass
class TableState:
    """What a load left in the destination, or should have: compared as a whole."""

    ids: list[int]  # sorted, so a record loaded twice shows as well as a missing one
    descriptions: dict[int, str | None]
    amount: Decimal
    line_items: int


def table_state(pipeline: dlt.Pipeline) -> TableState:
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT id, description FROM billing_records ORDER BY id")
        amount = client.execute_sql("SELECT SUM(amount) FROM billing_records")[0][0]
        items = client.execute_sql("SELECT COUNT(*) FROM billing_records__line_items")[0][0]
    return TableState(
        [row[0] for row in rows], {row[0]: row[1] for row in rows}, Decimal(amount), items
    )


def expected_state(records: list[Record]) -> TableState:
    return TableState(
        sorted(record["id"] for record in records),
        {record["id"]: record["description"] for record in records},
        sum((Decimal(record["amount"]) for record in records), Decimal(0)),
        sum(len(record["line_items"]) for record in records),
    )


def requests_per_offset(requests: list[RequestLog]) -> dict[int, list[RequestLog]]:
    """The requests for each page, in the order they arrived."""
    pages: dict[int, list[RequestLog]] = {}
    for request in sorted(requests, key=lambda request: request.at):
        pages.setdefault(int(request.params.get("offset", "0")), []).append(request)
    return pages


# --- random fault mixes ------------------------------------------------------------------

MIX_SIZE = 400
MIX_OFFSETS = (0, 99, 198, 297, 396)  # each page after the first starts one record early
MAX_RETRIES = 3
READ_TIMEOUT = 0.3
SLOW_ANSWER = 0.6  # longer than the read timeout: the request times out and is retried
MAX_WAIT = 0.05  # caps every wait, Retry-After included, so the mixes stay fast
RETRY_AFTER = (2, 6)  # seconds a Retry-After asks for, in seconds or as an HTTP-date
SEEDS = range(10)
# each kind fails one request; the pattern is how a page failing every retry is reported
FAULT_KINDS = {
    "http429": r"HTTP 429",
    "http429-retry-after-seconds": r"HTTP 429",
    "http429-retry-after-0": r"HTTP 429",
    "http429-retry-after-date": r"HTTP 429",
    **{f"http{status}": rf"HTTP {status}" for status in (500, 502, 503, 504)},
    "drop": r"no answer from the API after 4 attempts \(ConnectionError",
    "truncate": r"no answer from the API after 4 attempts \(ChunkedEncodingError",
    "delay": r"no answer from the API after 4 attempts \(ReadTimeout",
}


@dataclass(frozen=True)
class PlannedFault:
    """One fault of a seed's mix: its page, its kind, and the seconds of a Retry-After."""

    offset: int
    kind: str
    seconds: int
    times: int = 1

    def build(self) -> Fault:
        """The sandbox fault; an HTTP-date is written only now, so that it lies ahead."""
        offset, times = self.offset, self.times
        if self.kind.startswith("http429"):
            retry_after = {
                "http429": None,
                "http429-retry-after-seconds": str(self.seconds),
                "http429-retry-after-0": "0",
                "http429-retry-after-date": formatdate(time.time() + self.seconds, usegmt=True),
            }[self.kind]
            return Fault("status", offset=offset, times=times, status=429, retry_after=retry_after)
        if self.kind.startswith("http"):
            return Fault("status", offset=offset, times=times, status=int(self.kind[4:]))
        if self.kind == "delay":
            return Fault("delay", offset=offset, times=times, delay=SLOW_ANSWER)
        return Fault(self.kind, offset=offset, times=times)

    @property
    def status(self) -> int | None:
        """The status the sandbox logs for this fault unless it is 200: 0 for a drop."""
        if self.kind.startswith("http"):
            return int(self.kind[4:7])
        return 0 if self.kind == "drop" else None


@dataclass(frozen=True)
class MixPlan:
    """A seed's faults, and the page (if any) that fails more often than it is retried."""

    seed: int
    faults: tuple[PlannedFault, ...]
    failing: PlannedFault | None

    @property
    def test_id(self) -> str:
        if self.failing is None:
            return f"seed{self.seed}-completes-with-{len(self.faults)}-faults"
        return f"seed{self.seed}-fails-at-offset-{self.failing.offset}-{self.failing.kind}"


def plan_mix(seed: int) -> MixPlan:
    """Draws a seed's mix: up to `MAX_RETRIES` failures on any page, and on half the seeds
    one page that fails `MAX_RETRIES + 1` times in a row, with no other fault on it.

    A seed with a failing page draws no 429: a 429 shrinks the read-ahead, the pages then
    dropped are requested again, and a page may so get more attempts than its retries
    (see `test_a_page_failing_every_attempt_fails_the_run_after_a_429_elsewhere`).
    """
    rng = random.Random(seed)
    kinds = sorted(FAULT_KINDS)
    failing = None
    if rng.random() < 0.5:
        kinds = [kind for kind in kinds if not kind.startswith("http429")]
        answered = rng.random() < 0.5  # an error status, or no answer at all
        failing_kind = rng.choice([kind for kind in kinds if kind.startswith("http") == answered])
        seconds = rng.randint(*RETRY_AFTER)
        failing = PlannedFault(rng.choice(MIX_OFFSETS), failing_kind, seconds, MAX_RETRIES + 1)
    faults = []
    for offset in MIX_OFFSETS:
        if failing is not None and offset == failing.offset:
            continue
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            faults.append(PlannedFault(offset, rng.choice(kinds), rng.randint(*RETRY_AFTER)))
    rng.shuffle(faults)
    return MixPlan(seed, tuple(faults), failing)


MIX_PLANS = [plan_mix(seed) for seed in SEEDS]


def mix_map() -> dict[str, Any]:
    endpoint_map = fast_retry_map(backoff_factor=0.01, max_wait=MAX_WAIT)
    endpoint_map["client"]["timeout"] = {"connect": 2, "read": READ_TIMEOUT}
    return endpoint_map


def test_the_seeds_cover_both_outcomes_and_every_fault_kind() -> None:
    outcomes = Counter("fails" if plan.failing else "completes" for plan in MIX_PLANS)
    kinds = {fault.kind for plan in MIX_PLANS for fault in plan.faults}
    failing_statuses = {plan.failing.status for plan in MIX_PLANS if plan.failing}

    assert outcomes["completes"] >= 3 and outcomes["fails"] >= 3, outcomes
    assert kinds == set(FAULT_KINDS)
    assert None in failing_statuses and len(failing_statuses) >= 2  # no answer, and statuses
    for plan in MIX_PLANS:
        failures = Counter(fault.offset for fault in plan.faults)
        assert max(failures.values(), default=0) <= MAX_RETRIES
        assert plan.failing is None or plan.failing.offset not in failures


@pytest.mark.parametrize("plan", MIX_PLANS, ids=[plan.test_id for plan in MIX_PLANS])
def test_a_random_fault_mix_loads_exactly_or_fails_keeping_the_earlier_load(
    plan: MixPlan,
) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"mix_{plan.seed}", destination="duckdb", dataset_name="billing"
    )
    if plan.failing is None:
        faults = [fault.build() for fault in plan.faults]
        with running_sandbox(size=MIX_SIZE, seed=plan.seed, faults=faults) as api:
            load(pipeline, api, mix_map())
            requests = api.requests

        assert table_state(pipeline) == expected_state(api.records)
        # every fault was met: a page is answered only once its faults are spent
        failed = Counter(request.status for request in requests if request.status != 200)
        assert failed == Counter(fault.status for fault in plan.faults if fault.status is not None)
        # a Retry-After of seconds is capped at MAX_WAIT: no retry waited anywhere near them
        for page in requests_per_offset(requests).values():
            for request, retry in itertools.pairwise(page):
                if request.status == 429:
                    assert retry.at - request.at < RETRY_AFTER[0] / 2
        return

    with running_sandbox(size=MIX_SIZE, seed=plan.seed) as api:
        load(pipeline, api, mix_map())
        first_run = copy.deepcopy(api.records)
        assert table_state(pipeline) == expected_state(first_run)
        sources_state = copy.deepcopy(pipeline.state["sources"])

        for record in first_run:  # every record changes, so the next run reads every page
            api.update(record["id"], description="v2")
        for fault in (*plan.faults, plan.failing):
            api.add_fault(fault.build())
        with pytest.raises(Exception) as failure:
            load(pipeline, api, mix_map())

        message = str(failure.value)
        page = rf"billing_records, offset {plan.failing.offset}: "
        assert re.search(page + FAULT_KINDS[plan.failing.kind], message), message
        assert table_state(pipeline) == expected_state(first_run)
        # nothing of the failed run is pending and its incremental cursor did not move...
        assert pipeline.list_extracted_load_packages() == []
        assert pipeline.list_normalized_load_packages() == []
        assert pipeline.state["sources"] == sources_state

        # ...so the next run, meeting what is left of the faults, reads every change
        load(pipeline, api, mix_map())
        assert table_state(pipeline) == expected_state(api.records)
        assert set(table_state(pipeline).descriptions.values()) == {"v2"}


# --- a 429 while pages are read ahead -----------------------------------------------------


def rate_limited_load(faults: list[Fault]) -> tuple[dlt.Pipeline, SandboxAPI, BaseException | None]:
    """Loads 11 pages, eight read ahead, the first of them answered with a 429 once."""
    rate_limit = Fault("status", offset=99, status=429)
    with running_sandbox(size=1000, seed=5, latency_ms=50, faults=[rate_limit, *faults]) as api:
        pipeline = dlt.pipeline(pipeline_name="rate", destination="duckdb", dataset_name="billing")
        try:
            load(pipeline, api, fast_retry_map(max_wait=MAX_WAIT))
        except Exception as error:
            return pipeline, api, error
        return pipeline, api, None


def test_after_a_429_no_page_is_requested_again_once_under_way() -> None:
    pipeline, api, error = rate_limited_load([])

    assert error is None
    assert table_state(pipeline) == expected_state(api.records)  # the data is right
    counts = {offset: len(page) for offset, page in requests_per_offset(api.requests).items()}
    assert counts == {offset: 2 if offset == 99 else 1 for offset in range(0, 1000, 99)}


def test_a_page_failing_every_attempt_fails_the_run_after_a_429_elsewhere() -> None:
    _, api, error = rate_limited_load([Fault("drop", offset=792, times=MAX_RETRIES + 1)])

    attempts = len(requests_per_offset(api.requests)[792])
    assert error is not None, f"the run completed; offset 792 was tried {attempts} times"
    assert "billing_records, offset 792: no answer from the API after 4 attempts" in str(error)


# --- runs killed with SIGKILL -------------------------------------------------------------

CRASH_SIZE = 1000  # 11 pages, so a kill at the 10th request still finds the run fetching
CRASH_TARGET = Path(__file__).with_name("crash_target.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT = 120
EXTRACTED, NORMALIZED = "normalize/extracted/*", "load/normalized/*"


@dataclass
class Child:
    """The crash target loading from the sandbox in its own process, run as often as needed."""

    api: SandboxAPI
    tmp: Path
    postgres_dataset: str = ""  # loads into PostgreSQL instead of a DuckDB file
    process: "subprocess.Popen[str] | None" = field(default=None, repr=False)

    @property
    def working_dir(self) -> Path:
        return self.tmp / "pipelines" / "crash"

    @property
    def duckdb_path(self) -> Path:
        return self.tmp / "crash.duckdb"

    def start(self, kill_itself: str = "", dlt_only: bool = False) -> "subprocess.Popen[str]":
        """Starts a run; `kill_itself`, e.g. `after:billing_records`, and `dlt_only`: see
        crash_target.py."""
        paths = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {
            **os.environ,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "PYTHONPATH": os.pathsep.join(paths),
            "CRASH_TARGET_KILL": kill_itself,
            "CRASH_TARGET_DLT_ONLY": "1" if dlt_only else "",
            "CRASH_TARGET_POSTGRES_DATASET": self.postgres_dataset,
        }
        args = [self.api.url, self.api.api_key, "crash", str(self.tmp / "pipelines")]
        self.process = subprocess.Popen(
            [sys.executable, str(CRASH_TARGET), *args, str(self.duckdb_path)],
            cwd=self.tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self.process

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)

    def finish(self) -> tuple[int, str]:
        """Waits for the run to end; returns its exit code and the end of its stderr."""
        assert self.process is not None
        _, err = self.process.communicate(timeout=CHILD_TIMEOUT)
        return self.process.returncode, err[-3000:]

    def packages(self, pattern: str) -> list[Path]:
        return sorted(self.working_dir.glob(pattern))

    def loaded(self) -> tuple[int, int, Decimal, int, int]:
        """Rows, distinct ids, the sum of amounts, line items, and line items without a record."""
        dataset = self.postgres_dataset or "billing"
        records = f"SELECT COUNT(*), COUNT(DISTINCT id), SUM(amount) FROM {dataset}.billing_records"
        items = (
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE _dlt_parent_id NOT IN"
            f" (SELECT _dlt_id FROM {dataset}.billing_records))"
            f" FROM {dataset}.billing_records__line_items"
        )
        if self.postgres_dataset:
            pipeline = dlt.attach("crash", pipelines_dir=str(self.tmp / "pipelines"))
            with pipeline.sql_client() as client:
                rows, ids, amount = client.execute_sql(records)[0]
                item_count, orphans = client.execute_sql(items)[0]
            return rows, ids, amount, item_count, orphans
        with duckdb.connect(str(self.duckdb_path), read_only=True) as db:
            rows, ids, amount = db.execute(records).fetchone()  # type: ignore[misc]
            item_count, orphans = db.execute(items).fetchone()  # type: ignore[misc]
        return rows, ids, amount, item_count, orphans


def at_request(number: int) -> Callable[[Child], None]:
    """The sandbox kills the child as request `number` arrives, before answering it."""

    def arm(child: Child) -> None:
        child.api.on_request(number, lambda _: child.kill())
        child.start()

    return arm


def once_there_is(pattern: str) -> Callable[[Child], None]:
    """The child is killed as soon as `pattern` matches in its working dir."""

    def watch(child: Child) -> None:
        process = child.start()
        deadline = time.monotonic() + CHILD_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if child.packages(pattern):
                child.kill()
                return
            time.sleep(0.002)

    return watch


def itself(when: str, table: str) -> Callable[[Child], None]:
    """The child kills itself `before` or `after` DuckDB copies a file of `table` (`*`: the
    first file of any table) into the destination, or runs the merge (`merge`)."""

    def arm(child: Child) -> None:
        child.start(kill_itself=f"{when}:{table}")

    return arm


@dataclass(frozen=True)
class KillPoint:
    """Where a run is killed, and the package folder the killed run must have left."""

    kill: Callable[[Child], None]
    left: str | None  # None: nothing extracted was committed


KILL_POINTS = {
    # fetching pages: nothing is committed yet
    "extract-at-request-3": KillPoint(at_request(3), left=None),
    "extract-at-request-10": KillPoint(at_request(10), left=None),
    # the package is extracted, with the new incremental state, and normalize starts on it
    "normalize-once-extracted": KillPoint(once_there_is(EXTRACTED), left=EXTRACTED),
    # normalize hands the package to the loader: killed in normalize's commit or as load begins
    "normalize-commit-once-normalized": KillPoint(once_there_is(NORMALIZED), left=NORMALIZED),
    # loading: the tables exist, the first file is about to be copied into them
    "load-before-its-first-copy": KillPoint(itself("before", "*"), left=NORMALIZED),
    # committed by DuckDB, not yet recorded as done by dlt
    "load-after-a-committed-copy": KillPoint(itself("after", "billing_records"), left=NORMALIZED),
    "load-after-a-committed-nested-copy": KillPoint(
        itself("after", "billing_records__line_items"), left=NORMALIZED
    ),
    # the staged rows are merged into the dataset, and dlt has not recorded it
    "load-before-the-merge": KillPoint(itself("before", "merge"), left=NORMALIZED),
    "load-after-the-committed-merge": KillPoint(itself("after", "merge"), left=NORMALIZED),
}


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Child]:
    with running_sandbox(size=CRASH_SIZE, seed=11, latency_ms=20) as api:
        yield Child(api, tmp_path)


def kill_and_run_again(
    child: Child, kill: Callable[[Child], None], left: str | None, dlt_only: bool = False
) -> None:
    kill(child)
    code, err = child.finish()
    assert code == -signal.SIGKILL, err
    assert child.packages("load/loaded/*") == []  # killed before its load completed
    if left is None:
        assert child.packages(EXTRACTED) == child.packages(NORMALIZED) == []
    else:
        assert child.packages(left), f"no {left} after the kill"

    child.start(dlt_only=dlt_only)
    code, err = child.finish()
    assert code == 0, err


@pytest.mark.parametrize("point", KILL_POINTS.values(), ids=KILL_POINTS.keys())
def test_a_run_killed_with_sigkill_is_completed_exactly_by_the_next_run(
    point: KillPoint, child: Child
) -> None:
    kill_and_run_again(child, point.kill, point.left)

    expected = expected_state(child.api.records)
    rows, ids, amount, items, orphans = child.loaded()
    assert (rows, ids) == (CRASH_SIZE, CRASH_SIZE)
    assert amount == expected.amount
    assert (items, orphans) == (expected.line_items, 0)


@pytest.mark.skipif("postgres" not in ALL_DESTINATIONS, reason="ALL_DESTINATIONS has no postgres")
def test_a_postgres_run_killed_after_a_committed_copy_is_completed_exactly(child: Child) -> None:
    child.postgres_dataset = f"crash_{uuid.uuid4().hex[:10]}"
    kill_and_run_again(child, itself("after", "billing_records"), left=NORMALIZED)

    expected = expected_state(child.api.records)
    rows, ids, amount, items, orphans = child.loaded()
    assert (rows, ids) == (CRASH_SIZE, CRASH_SIZE)
    assert amount == expected.amount
    assert (items, orphans) == (expected.line_items, 0)


@pytest.mark.skipif("postgres" not in ALL_DESTINATIONS, reason="ALL_DESTINATIONS has no postgres")
def test_dlt_alone_cannot_finish_a_postgres_run_killed_after_a_committed_copy(
    child: Child,
) -> None:
    """On PostgreSQL the copy dlt runs again meets unique `_dlt_id` keys: of the pipeline
    state, when its job was also left started (the next run fails, and every run after it),
    or else the records stand twice."""
    child.postgres_dataset = f"crash_{uuid.uuid4().hex[:10]}"
    itself("after", "billing_records")(child)
    assert child.finish()[0] == -signal.SIGKILL

    child.start(dlt_only=True)
    code, err = child.finish()

    if code != 0:
        assert "duplicate key value violates unique constraint" in err, err
    else:
        rows, ids, _, _, _ = child.loaded()
        assert (rows, ids) == (2 * CRASH_SIZE, CRASH_SIZE)


def test_dlt_alone_loads_a_committed_copy_again_after_a_kill(child: Child) -> None:
    """The gap `settle_committed_copies` fills: resumed by dlt alone, the copy DuckDB had
    committed runs again, and every record stands twice, each pair with one `_dlt_id`."""
    kill_and_run_again(child, itself("after", "billing_records"), NORMALIZED, dlt_only=True)

    rows, ids, amount, _, _ = child.loaded()
    assert (rows, ids) == (2 * CRASH_SIZE, CRASH_SIZE)
    assert amount == 2 * expected_state(child.api.records).amount


# --- the request budget -------------------------------------------------------------------

BUDGET_SIZE = 1000
BUDGET_PAGES = 11  # offsets 0, 99, ..., 990
PER_SECOND = 10


def load_on_budget(requests_per_second: float | None) -> list[float]:
    """Loads the records, eight pages at a time, and returns when each request arrived."""
    endpoint_map = fast_retry_map()
    endpoint_map["client"]["concurrency"] = 8
    if requests_per_second is not None:
        endpoint_map["client"]["requests_per_second"] = requests_per_second
    pipeline = dlt.pipeline(pipeline_name="budget", destination="duckdb", dataset_name="billing")
    with running_sandbox(size=BUDGET_SIZE, seed=5, latency_ms=50) as api:
        load(pipeline, api, endpoint_map)
        requests = api.requests

    assert [request.status for request in requests] == [200] * BUDGET_PAGES
    assert table_state(pipeline) == expected_state(api.records)
    return sorted(request.at for request in requests)


def busiest_second(arrivals: list[float]) -> int:
    """The most requests that arrived within any one second."""
    return max(sum(1 for other in arrivals if start <= other < start + 1) for start in arrivals)


def test_the_request_budget_holds_in_every_second_while_pages_are_read_ahead() -> None:
    arrivals = load_on_budget(PER_SECOND)

    assert busiest_second(arrivals) <= PER_SECOND + 1  # one more for the window's edges
    assert arrivals[-1] - arrivals[0] >= (BUDGET_PAGES - 1) / PER_SECOND - 0.05


def test_without_a_budget_the_same_load_goes_over_it() -> None:
    arrivals = load_on_budget(None)

    assert busiest_second(arrivals) > PER_SECOND
