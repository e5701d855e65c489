"""A backlog drained by this tree against an earlier commit, interleaved in one run.

On a shared machine the absolute speed of a drain moves by a factor of several with the load;
two versions measured alternately see the same load. Each round drains the same kind of backlog
(one kiosk, ``--records`` records, made before the clock starts) through the kiosk's own sync
loop to a fresh ``hub serve`` process on loopback, once with the earlier commit's code (``git
archive`` into a temporary folder) and once with this tree's, for each database and batch size;
the medians and their ratio are reported.

Run: .venv/bin/python -m bench.backlog_ab --before 7cbcd0d [--records 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE = """
import json, sys, tempfile, time
from pathlib import Path
from bench.hub_fleet import hub_processes
from bench.sync_bench import drop, make_backlog, open_store, token_for
from sync.client import SyncClient
kind, records, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
work = Path(tempfile.mkdtemp())
ledger, _ = make_backlog(work / "k.sqlite3", "backlog", records)
store, schema = open_store(kind, work)
try:
    token = token_for(store, ledger.kiosk_id)
    with hub_processes(store.url, work / "keys", 1) as [port]:
        client = SyncClient(ledger, f"http://127.0.0.1:{port}", token, batch_size=batch)
        started = time.perf_counter()
        while client.cycle() == 0.0:  # the kiosk's own loop, as bench.sync_bench.drain
            pass
        print(json.dumps(time.perf_counter() - started))
        assert not client.state.last_error, client.state.last_error
        assert client.outbox.queue()[0] == 0
finally:
    store.close()
    drop(schema)
"""


def drain_seconds(tree: Path, kind: str, records: int, batch: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", ONE, kind, str(records), str(batch)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the earlier commit")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--batches", default="200,500")
    parser.add_argument("--repo", default=str(ROOT), help="the git repository of --before")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp)
        archive = subprocess.run(
            ["git", "-C", args.repo, "archive", args.before], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        for kind in args.stores.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                times: dict[str, list[float]] = {"before": [], "after": []}
                for index in range(args.rounds):
                    order = [("before", before), ("after", ROOT)]
                    for name, tree in order if index % 2 == 0 else order[::-1]:
                        times[name].append(drain_seconds(tree, kind, args.records, batch))
                    print(
                        kind,
                        batch,
                        {k: [round(t, 2) for t in v] for k, v in times.items()},
                        file=sys.stderr,
                        flush=True,
                    )
                b, a = (statistics.median(times[n]) for n in ("before", "after"))
                results[f"{kind}_batch_{batch}"] = {
                    "before_s": round(b, 2),
                    "after_s": round(a, 2),
                    "speed_ratio_after_to_before": round(b / a, 2),
                    "rounds": times,
                }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
