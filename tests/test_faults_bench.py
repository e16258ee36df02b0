"""bench/faults.py's arithmetic: the time to recover from a fault, the errors it is blamed for,
the verdict, and how a failed request is named. The run itself needs gunicorn, PostgreSQL and
Redis, and is not part of the suite."""

import http.client
import importlib.util
from pathlib import Path

import pytest

FAULTS = Path(__file__).resolve().parents[1] / "bench" / "faults.py"
spec = importlib.util.spec_from_file_location("faults_bench", FAULTS)
faults = importlib.util.module_from_spec(spec)
spec.loader.exec_module(faults)


def make_requests(*rows):
    """Results from (start, end, outcome) rows."""
    return [faults.Result(start, end, "/", outcome) for start, end, outcome in rows]


def steady(start, end, step=0.1, outcome=200):
    """One request every `step` seconds from `start` to `end`, each lasting 50 ms."""
    count = round((end - start) / step)
    return make_requests(
        *((start + n * step, start + n * step + 0.05, outcome) for n in range(count))
    )


def test_without_failures_recovery_is_the_first_response_after_the_fault():
    results = steady(0, 5)
    assert faults.recovery_time(results, 2.01) == pytest.approx(0.04)  # 2.0-2.05 ends first
    in_flight, failed_in_flight, failed_after = faults.attributable(results, 2.01, 0.04)
    assert len(in_flight) == 1 and failed_in_flight == [] and failed_after == []
    assert faults.verdict(failed_after, 0.04) == "MET"


def test_failures_in_flight_only_meet_the_target():
    # Two requests in flight at 2.0 fail when the fault hits; everything after succeeds.
    results = steady(0, 1.9) + make_requests((1.95, 2.02, "connection reset"), (1.98, 2.2, 500))
    results += steady(2.1, 5)
    recovery = faults.recovery_time(results, 2.0)
    # The failure ending last ends at 2.2; the next response, 2.2-2.25, opens the healthy run.
    assert recovery == pytest.approx(0.25)
    _, failed_in_flight, failed_after = faults.attributable(results, 2.0, recovery)
    assert [r.outcome for r in failed_in_flight] == ["connection reset", 500]
    assert failed_after == []
    assert faults.verdict(failed_after, recovery) == "MET"


def test_each_workers_next_request_failing_misses_the_target():
    # Every worker's dead connection fails its next request, started after the fault.
    results = steady(0, 2) + make_requests((2.01, 2.04, 500), (2.1, 2.12, 500), (2.3, 2.31, 500))
    results += steady(2.4, 5)
    recovery = faults.recovery_time(results, 2.0)
    assert recovery == pytest.approx(0.45)  # the response 2.4-2.45
    _, failed_in_flight, failed_after = faults.attributable(results, 2.0, recovery)
    assert failed_in_flight == []
    assert [r.start for r in failed_after] == [2.01, 2.1, 2.3]
    assert faults.verdict(failed_after, recovery) == "MISSED"


def test_successes_shorter_than_a_second_are_not_a_recovery():
    # Successes for 0.5 s, then one more failure: the healthy run starts after it.
    results = make_requests((1.0, 1.1, 500)) + steady(1.1, 1.6)
    results += make_requests((1.6, 1.7, 502)) + steady(1.7, 4)
    assert faults.recovery_time(results, 1.0) == pytest.approx(0.75)  # 1.7-1.75


def test_a_slow_recovery_misses_the_target():
    results = make_requests((1.0, 3.5, "timeout")) + steady(3.5, 6)
    recovery = faults.recovery_time(results, 1.0)
    assert recovery == pytest.approx(2.55)
    assert faults.verdict([], recovery) == "MISSED"


def test_no_recovery_before_the_next_fault():
    results = make_requests((1.0, 1.5, 500)) + steady(1.5, 2.3) + steady(2.3, 5, outcome=500)
    # Successes from 1.5 to 2.3 would need to last until 2.55 at least.
    assert faults.recovery_time(results, 1.0, until=2.4) is None
    _, _, failed_after = faults.attributable(results, 1.0, None, until=2.4)
    assert [r.start for r in failed_after] == [2.3]  # the next fault's are its own
    assert faults.verdict(failed_after, None) == "MISSED"


def test_a_run_of_successes_ending_with_the_load_is_not_a_recovery():
    results = make_requests((1.0, 1.1, 500)) + steady(1.1, 1.9)
    assert faults.recovery_time(results, 1.0, until=2.0) is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (http.client.RemoteDisconnected("closed"), "closed without response"),
        (ConnectionResetError(104, "reset"), "connection reset"),
        (ConnectionRefusedError(111, "refused"), "connection refused"),
        (TimeoutError("timed out"), "timeout"),
        (http.client.IncompleteRead(b""), "IncompleteRead"),
    ],
)
def test_errors_are_named_by_kind(error, kind):
    assert faults.classify(error) == kind


def test_errors_are_counted_by_kind():
    results = make_requests((0, 1, 200), (0, 1, 500), (0, 1, 500), (0, 1, "timeout"), (0, 1, 302))
    assert faults.count_kinds(results) == {"HTTP 500": 2, "timeout": 1}
    assert faults.format_kinds(faults.count_kinds(results)) == "HTTP 500: 2; timeout: 1"


def test_the_servers_exceptions_are_read_from_its_log(tmp_path):
    log = tmp_path / "gunicorn.log"
    log.write_text(
        "[2026-12-01 00:09:48 +0000] [19211] [ERROR] Worker (pid:19212) was sent SIGKILL!\n"
        "Internal Server Error: /\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n'
        "psycopg.errors.AdminShutdown: terminating connection due to administrator command\n"
        "django.db.utils.OperationalError: terminating connection due to administrator command\n"
    )
    assert faults.server_exceptions(log) == {
        "psycopg.errors.AdminShutdown": 1,
        "django.db.utils.OperationalError": 1,
    }
