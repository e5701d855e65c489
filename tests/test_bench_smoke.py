"""The benchmarks run, at a size that takes seconds: the fever-block rule (a blocked person is
the guard's to clear) broke the verdict-latency benchmark and nothing noticed until it was run
for a figure. The figures themselves come from full runs (docs/benchmarks.md), not from here."""

from __future__ import annotations

from bench.kiosk_bench import ledger_throughput, memory_after_screenings, verdict_latency
from bench.sync_bench import backlog, make_backlog


def test_the_kiosk_benchmarks_run(tmp_path):
    latency = verdict_latency(tmp_path / "latency", people=4)  # the 1st and 4th have a fever
    assert latency["people"] == 4 and latency["ratio"] > 0
    appends = ledger_throughput(tmp_path, appends=40, rounds=4)
    assert appends["appends"] == 40 and appends["ratio"] > 0
    memory = memory_after_screenings(tmp_path, screenings=12)  # the 10th has a fever
    assert memory["screenings"] == 12


def test_the_backlog_benchmark_drains_through_a_hub_process(tmp_path):
    ledger, rate = make_backlog(tmp_path / "k.sqlite3", "backlog", 450)
    drained = backlog("sqlite", tmp_path, ledger, rate)
    assert drained["records"] == 450 and ledger.queue() == (450, ledger.events()[0]["wall_time"])


def test_the_register_benchmark_fills_a_hub_of_compounds(tmp_path):
    """It wrote residents without a compound once compounds came, and failed at the first row."""
    from bench.register_bench import measure

    report = measure(400, 7.5, str(tmp_path))
    assert report["events"] == 400, report


def test_the_adaptive_settle_meets_its_targets_with_the_same_verdicts():
    """bench/settle_bench.py, small: simulated time on a fake clock, so not a timed test."""
    from bench.settle_bench import corpus_verdicts, fault_trace, latencies

    adaptive, verdicts = latencies(True, 60, seed=11)
    fixed, fixed_verdicts = latencies(False, 60, seed=11)
    assert adaptive.median_s <= 0.6 and adaptive.p95_s <= 0.8, adaptive
    assert adaptive.median_s < fixed.median_s
    assert verdicts == fixed_verdicts
    assert corpus_verdicts(True) == corpus_verdicts(False)
    assert fault_trace(True, seed=1, people=30)["admitted_on_a_fault"] == 0


def test_the_jobs_benchmark_runs_through_the_pages(tmp_path):
    """bench/jobs_bench.py, small: passes issued the old way and as a job, a building's PDF, the
    ledger's XLSX streamed and as a job."""
    from bench.jobs_bench import bench_issue, bench_xlsx

    issued = bench_issue("sqlite", str(tmp_path), "", 60)
    assert issued["passes"] == 60 and issued["pdf_500"]["cards"] == 60, issued
    exported = bench_xlsx(str(tmp_path), 500)
    assert exported["events"] == 500 and exported["total_s"] > 0, exported
