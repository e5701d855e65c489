"""Background jobs of the admins' pages: issuing passes, the pass PDF, the ledger's XLSX.

A job runs in a thread of the hub process; the page that started it shows its progress from
the job's row in ``hub_jobs`` (state, done of total, started, by whom, the message), which the
job updates as it goes. One job of a kind runs per compound at a time (a partial unique index
says so to every hub process). A result file (a PDF, an XLSX) is kept in the runner's directory
(a temporary directory of the process, so it goes with a restart) until the next job of that
kind in the compound, or for :data:`KEEP_FILE_S`.

Nothing survives a restart: a job whose runner is gone is shown as 中断，请重新开始 — at once
by the process that started it (its thread is no longer alive), or once it has not reported
for :data:`STALE_S` seconds by any other process (one that started after the restart).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sync.hub.store import HubStore, now_iso
from sync.localtime import format_local, zone

log = logging.getLogger(__name__)

STALE_S = 15.0  # a running job that has not reported for this long is 中断
KEEP_FILE_S = 24 * 3600  # a result file is deleted after this long (it holds personal data)
MAX_RUNNING = 3  # jobs running at once in one hub process (the others wait: 排队中)
PROGRESS_EVERY_S = 0.25  # a job writes its progress at most this often (besides its chunks)

KINDS = {
    "passes.issue": "发放通行证",
    "passes.pdf": "通行证 PDF",
    "ledger.xlsx": "台账 XLSX 导出",
}
# Who may see a job of each kind (the roles of the page that starts it).
KIND_ROLES = {
    "passes.issue": ("admin",),
    "passes.pdf": ("admin",),
    "ledger.xlsx": ("admin", "viewer", "health", "district"),
}
STATE_WORDS = {
    "queued": "排队中",
    "running": "进行中",
    "done": "已完成",
    "failed": "失败",
    "interrupted": "中断，请重新开始",
}
INTERRUPTED = "中心服务重启或异常退出，这项工作已中断，请重新开始"


class JobBusy(RuntimeError):
    """A job of the same kind already runs for the compound; the message says whose."""

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobFailed(RuntimeError):
    """Raised by a job's work with a message for the manager (Chinese, what to do)."""


@dataclass(frozen=True)
class Job:
    job_id: str
    compound_id: int
    kind: str
    state: str
    done: int
    total: int | None
    started_at: str
    started_by: str
    heartbeat_at: str
    finished_at: str | None
    params: dict[str, Any]
    message: str | None
    result_file: str | None
    result_count: int | None

    @property
    def kind_words(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def state_words(self) -> str:
        return STATE_WORDS.get(self.state, self.state)

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        if not self.total:
            return 0
        return min(100, int(self.done * 100 / self.total))

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "interrupted")


COLUMNS = (
    "job_id, compound_id, kind, state, done, total, started_at, started_by, heartbeat_at,"
    " finished_at, params, message, result_file, result_count"
)


def _job(row: Any) -> Job:
    return Job(
        job_id=row[0],
        compound_id=int(row[1]),
        kind=row[2],
        state=row[3],
        done=int(row[4]),
        total=None if row[5] is None else int(row[5]),
        started_at=row[6],
        started_by=row[7],
        heartbeat_at=row[8],
        finished_at=row[9],
        params=json.loads(row[10]),
        message=row[11],
        result_file=row[12],
        result_count=None if row[13] is None else int(row[13]),
    )


class Progress:
    """What a job's work is given: say the total, advance, and where to write its file.
    ``chunk_done`` is called inside the work's own transaction (the count commits with the
    work); ``advance`` writes the progress on its own, at most every PROGRESS_EVERY_S."""

    def __init__(self, store: HubStore, job_id: str, file: Path) -> None:
        self.store = store
        self.job_id = job_id
        self.file = file
        self.done = 0
        self.total: int | None = None
        self._shown = 0  # the count the job's row holds
        self._written_at = 0.0

    def set_total(self, total: int) -> None:
        self.total = total
        with self.store.transaction():
            self.store.execute(
                "UPDATE hub_jobs SET total = ?, heartbeat_at = ? WHERE job_id = ?",
                (total, now_iso(), self.job_id),
            )
        self._written_at = time.monotonic()

    def chunk_done(self, count: int) -> None:
        """Inside the caller's transaction: ``count`` more are done."""
        self.done += count
        self.store.execute(
            "UPDATE hub_jobs SET done = ?, heartbeat_at = ? WHERE job_id = ?",
            (self.done, now_iso(), self.job_id),
        )
        self._shown = self.done
        self._written_at = time.monotonic()

    def advance(self, count: int = 1, *, force: bool = False) -> None:
        """``count`` more are done: written at once the first time (the page shows that the
        work has begun), then at most every PROGRESS_EVERY_S."""
        self.done += count
        first = self._shown == 0 and self.done > 0
        if force or first or time.monotonic() - self._written_at >= PROGRESS_EVERY_S:
            with self.store.transaction():
                self.chunk_done(0)


Work = Callable[[HubStore, Progress], tuple[int, str]]  # → (result count, message)


_RUNNERS: weakref.WeakSet[JobRunner] = weakref.WeakSet()


def wait_all_idle(timeout: float = 60.0) -> bool:
    """Wait for the jobs of every runner of this process (before its database is closed: a
    connection closed under a running job's thread is not safe with psycopg)."""
    deadline = time.monotonic() + timeout
    return all(runner.wait_idle(max(0.0, deadline - time.monotonic())) for runner in list(_RUNNERS))


class JobRunner:
    """The hub process's job threads. ``directory``: where result files are kept (a fresh
    temporary directory of this process when not given, removed when the hub stops)."""

    def __init__(self, directory: Path | None = None, tz: tzinfo | None = None) -> None:
        self.tz = tz or zone()
        self.runner_id = uuid.uuid4().hex
        self._own_dir = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="menwei-hub-jobs-"))
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_RUNNING)
        _RUNNERS.add(self)

    # -- starting -----------------------------------------------------------------------------

    def start(
        self, store: HubStore, kind: str, username: str, params: dict[str, Any], work: Work
    ) -> str:
        """Start ``work`` for the store's compound; JobBusy if one of the kind runs there."""
        compound_id = store.write_compound()
        view = store.scoped(compound_id)
        job_id = uuid.uuid4().hex
        file = self.directory / f"{job_id}.part"
        now = now_iso()
        thread = threading.Thread(
            target=self._run, args=(view, job_id, file, work), name=f"job-{kind}", daemon=True
        )
        with self._lock:  # known before its row is, so that it is never taken for lost
            self._threads[job_id] = thread
        try:
            old = self._insert(view, job_id, kind, username, params, now)
        except BaseException:
            with self._lock:
                self._threads.pop(job_id, None)
            raise
        for (name,) in old:  # the previous file of this kind: only the latest is kept
            self._remove(name)
        thread.start()
        return job_id

    def _insert(
        self,
        view: HubStore,
        job_id: str,
        kind: str,
        username: str,
        params: dict[str, Any],
        now: str,
    ) -> list[Any]:
        compound_id = view.write_compound()
        with view.transaction(ordered=True):
            running = view.fetch_one(
                f"SELECT {COLUMNS} FROM hub_jobs WHERE compound_id = ? AND kind = ?"
                " AND state = 'running'",
                (compound_id, kind),
            )
            if running is not None:
                other = _job(running)
                if not self._lost(view, other):
                    raise JobBusy(busy_words(other, self.tz), other.job_id)
                self._mark_interrupted(view, other.job_id)
            old = view.fetch_all(
                "SELECT result_file FROM hub_jobs WHERE compound_id = ? AND kind = ?"
                " AND result_file IS NOT NULL",
                (compound_id, kind),
            )
            view.execute(
                "UPDATE hub_jobs SET result_file = NULL WHERE compound_id = ? AND kind = ?",
                (compound_id, kind),
            )
            view.execute(
                "INSERT INTO hub_jobs (job_id, compound_id, kind, state, done, started_at,"
                " started_by, heartbeat_at, runner, params) VALUES (?, ?, ?, 'running', 0, ?, ?,"
                " ?, ?, ?)",
                (
                    job_id,
                    compound_id,
                    kind,
                    now,
                    username,
                    now,
                    self.runner_id,
                    json.dumps(params, ensure_ascii=False, sort_keys=True),
                ),
            )
        return list(old)

    def _run(self, store: HubStore, job_id: str, file: Path, work: Work) -> None:
        progress = Progress(store, job_id, file)
        try:
            while not self._slots.acquire(timeout=STALE_S / 3):
                with store.transaction():  # waiting for a free slot: still alive
                    progress.chunk_done(0)
            try:
                try:
                    count, message = work(store, progress)
                except JobFailed as exc:
                    self._finish(store, job_id, "failed", str(exc), None, None, progress.done)
                except Exception as exc:
                    log.exception("后台工作 %s 失败", job_id)
                    self._finish(
                        store,
                        job_id,
                        "failed",
                        f"出错了（{type(exc).__name__}）：已完成的部分已保存，请稍后重新开始；"
                        "如一再出错，请联系中心管理员查看日志",
                        None,
                        None,
                        progress.done,
                    )
                else:
                    result = None
                    if file.exists():
                        result = file.with_suffix(".done")
                        file.rename(result)
                    self._finish(store, job_id, "done", message, result, count, progress.done)
            finally:
                self._slots.release()
        except Exception:  # the database is gone (the hub stops): nothing more to say
            log.exception("后台工作 %s 的状态无法保存", job_id)
        finally:
            file.unlink(missing_ok=True)
            store.close_thread()
            with self._lock:
                self._threads.pop(job_id, None)

    def _finish(
        self,
        store: HubStore,
        job_id: str,
        state: str,
        message: str,
        result: Path | None,
        count: int | None,
        done: int,
    ) -> None:
        with store.transaction():
            store.execute(
                "UPDATE hub_jobs SET state = ?, message = ?, finished_at = ?, heartbeat_at = ?,"
                " result_file = ?, result_count = ?, done = ? WHERE job_id = ?",
                (
                    state,
                    message,
                    now_iso(),
                    now_iso(),
                    None if result is None else result.name,
                    count,
                    done,
                    job_id,
                ),
            )

    # -- reading ------------------------------------------------------------------------------

    def get(self, store: HubStore, job_id: str) -> Job | None:
        """The job, if it is of the store's compound (else None, as for an unknown id)."""
        if store.compound is None or len(job_id) > 64:
            return None
        row = store.fetch_one(
            f"SELECT {COLUMNS} FROM hub_jobs WHERE job_id = ? AND {store.in_compound()}",
            (job_id,),
        )
        return None if row is None else self._seen(store, _job(row))

    def _seen(self, store: HubStore, job: Job) -> Job:
        """A running job whose runner is gone is interrupted: said so, and stored so (read
        again: the job may have finished while it was looked at)."""
        if job.state != "running" or not self._lost(store, job):
            return job
        with store.transaction():
            self._mark_interrupted(store, job.job_id)
        row = store.fetch_one(f"SELECT {COLUMNS} FROM hub_jobs WHERE job_id = ?", (job.job_id,))
        return _job(row)

    @staticmethod
    def _mark_interrupted(store: HubStore, job_id: str) -> None:
        store.execute(
            "UPDATE hub_jobs SET state = 'interrupted', message = ?, finished_at = ?"
            " WHERE job_id = ? AND state = 'running'",
            (INTERRUPTED, now_iso(), job_id),
        )

    def _lost(self, store: HubStore, job: Job) -> bool:
        runner = store.fetch_one("SELECT runner FROM hub_jobs WHERE job_id = ?", (job.job_id,))
        if runner is not None and runner[0] == self.runner_id:
            with self._lock:
                thread = self._threads.get(job.job_id)
            return thread is None or not thread.is_alive()
        beat = datetime.fromisoformat(job.heartbeat_at)
        return datetime.now(UTC) - beat > timedelta(seconds=STALE_S)

    def result_path(self, job: Job) -> Path | None:
        """The job's file, while it is kept (the latest of its kind, not older than a day,
        made by this process)."""
        if job.result_file is None or job.finished_at is None:
            return None
        path = self.directory / Path(job.result_file).name
        finished = datetime.fromisoformat(job.finished_at)
        if datetime.now(UTC) - finished > timedelta(seconds=KEEP_FILE_S):
            self._remove(job.result_file)
            return None
        return path if path.is_file() else None

    def _remove(self, name: str) -> None:
        (self.directory / Path(name).name).unlink(missing_ok=True)

    # -- stopping -----------------------------------------------------------------------------

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait for every running job's thread (tests; a hub that stops)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads.values())
            if not threads:
                return True
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return not self._threads

    def close(self) -> None:
        """Remove the result files (a process's own directory only)."""
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)


def busy_words(job: Job, tz: tzinfo) -> str:
    done = f"已完成 {job.done}/{job.total}" if job.total else "正在准备"
    return (
        f"本小区已有一项“{job.kind_words}”正在进行（{job.started_by} 于 "
        f"{format_local(job.started_at, tz)} 开始，{done}）：请等它完成后再开始"
    )
