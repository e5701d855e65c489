"""The kiosk's sync client: pushes the ledger to the hub and pulls the roster down.

One request in flight, bounded batches, explicit timeouts, exponential backoff with jitter while
the hub cannot be reached. Records are marked sent only from the hub's answer, and that mark is
the only state kept: a crash at any moment leaves records unsent (sent again, stored once by the
hub) or sent (the hub has them), never lost. While a backlog drains, the next batch is read and
encoded while the hub works on the current one (the request waits in a thread of its own; the
ledger is only touched from the caller's).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from sync.outbox import Outbox
from sync.protocol import API, CONFLICT, DUPLICATE, MAX_BATCH_RECORDS, QUARANTINED, STORED

log = logging.getLogger(__name__)

ACKNOWLEDGED = {STORED, DUPLICATE, QUARANTINED, CONFLICT}


@dataclass
class SyncState:
    """What the guard screen and ``kiosk status`` show."""

    configured: bool = True
    queue: int = 0
    oldest_unsent: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    revoked: bool = False
    roster_version: int = 0
    hub_records: int | None = None
    # The settings version it runs: the roster version of the newest setting change it has
    # applied, as the hub's roster answer says (None: no answer has said yet, or an old hub).
    settings_version: int | None = None


QUEUE_EVERY = 10  # while a backlog drains, the unsent count goes with every 10th batch
REVOKED_RETRY_S = 60.0  # a revoked kiosk asks again this often (it may have been enrolled anew)
JSON_BODY = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Batch:
    """The next records to send, read and encoded ahead of their request."""

    ids: frozenset[str]
    records_json: bytes  # the JSON list of the wire records
    more: bool  # more were unsent when it was read


class TokenRevoked(Exception):
    pass


class SyncClient:
    def __init__(
        self,
        outbox: Outbox,
        hub_url: str,
        token: str,
        *,
        ca_file: str | None = None,
        batch_size: int = 200,
        idle_interval_s: float = 30.0,
        timeout: tuple[float, float] = (5.0, 30.0),
        backoff_cap_s: float = 300.0,
        on_roster: Callable[[list[dict[str, Any]]], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.hub_url = hub_url.rstrip("/")
        self.batch_size = min(batch_size, MAX_BATCH_RECORDS)
        self.idle_interval_s = idle_interval_s
        self.timeout = timeout
        self.backoff_cap_s = backoff_cap_s
        self.on_roster = on_roster
        self._rng = rng or random.Random()
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        # Given with each request: on the session alone, requests lets REQUESTS_CA_BUNDLE from
        # the environment win over sync.ca_file (a private CA then fails, or is not checked).
        self._verify: str | bool = ca_file if ca_file else True
        self._failures = 0
        self._pushed = 0  # batches sent (for QUEUE_EVERY)
        self._next: Batch | None = None  # read while the batch before it was at the hub
        self._checked_hub = False
        self.wake = threading.Event()
        self.state = SyncState()
        saved = self._load_state()
        self.state.roster_version = int(saved.get("roster_version", 0))
        self.state.settings_version = _version(saved.get("settings_version"))
        # A restart does not make a gate that synced an hour ago "never synced".
        self.state.last_success = saved.get("last_success")
        self._woken = False  # the last wait was cut short by a new record

    def use_token(self, token: str) -> None:
        """The kiosk was enrolled again (``kiosk enrol`` while it runs): send the new token."""
        self._http.headers["Authorization"] = f"Bearer {token}"

    # -- the worker --------------------------------------------------------------------------

    def run(self, stop: threading.Event, after_cycle: Callable[[], None] | None = None) -> None:
        """Sync until ``stop`` is set. New records call ``wake`` to cut the idle wait short;
        ``after_cycle`` runs after each round (the kiosk's retention)."""
        while not stop.is_set():
            try:
                delay = self.cycle()
            except Exception as exc:  # the ledger itself (a full disk, a lock held too long)
                log.exception("sync: the round failed on this kiosk")
                self.state.last_error = f"本机台账读写出错，稍后重试 ledger failed: {exc}"
                delay = self._backoff()
            if after_cycle is not None:
                after_cycle()
            self._woken = self.wake.wait(delay)
            self.wake.clear()

    def cycle(self) -> float:
        """One round: push what is unsent, pull the roster. Returns seconds to wait."""
        try:
            if not self._checked_hub:
                self.reconcile()
                self._checked_hub = True
            more = self.push_batch()
            if not more:
                self.pull_roster()
        except TokenRevoked as exc:
            self._fail(str(exc), revoked=True)
            # No tight loop, but a kiosk enrolled again (``use_token``) goes on within a minute.
            return min(self.backoff_cap_s, REVOKED_RETRY_S)
        except RetryAfter as exc:
            self._fail(str(exc))
            return exc.seconds
        except (requests.RequestException, HubError, ValueError, OSError) as exc:
            # OSError: requests' own, for a sync.ca_file that does not exist
            self._fail(problem_words(exc), detail=str(exc))
            return self._backoff()
        self._failures = 0
        self.state.revoked = False
        self.state.last_success = _now()
        self.state.last_error = None
        if not more or self._pushed == 1 or self._pushed % QUEUE_EVERY == 0:
            # While a backlog drains, the count (and the state saved for ``kiosk status``) goes
            # with the first batch after a start (the screen would say 0 until the 10th), every
            # QUEUE_EVERY-th and the last, as the count sent to the hub does.
            self._refresh_queue()
        return 0.0 if more else self.idle_interval_s

    def _backoff(self) -> float:
        # A round a new record started (a person at the gate) tries again without waiting
        # longer next time: a dozen people in an outage must not push the next try to the cap.
        if not self._woken:
            self._failures += 1
        base = min(self.backoff_cap_s, 2 ** min(self._failures, 16))
        return base * self._rng.uniform(0.5, 1.0)

    def _fail(self, message: str, *, revoked: bool = False, detail: str | None = None) -> None:
        if message != self.state.last_error:  # once per change, not every retry
            technical = f" ({detail})" if detail not in (None, message) else ""
            log.warning("sync: %s%s", message, technical)
        self.state.last_error = message
        self.state.revoked = revoked
        self._refresh_queue()

    # -- pushing -----------------------------------------------------------------------------

    def push_batch(self) -> bool:
        """Send one batch; True if more remain unsent afterwards."""
        # One record more than a batch says whether this is the last one. Counting what is
        # unsent reads the whole backlog (most of the time of a 100,000-record drain went
        # there), so the count goes with the last batch, whose count the hub needs exactly (0
        # settles a gap: docs/sync-protocol.md), and with every QUEUE_EVERY-th one before it;
        # the others send none and the hub keeps the last count.
        batch, self._next = self._next or self._read_batch(frozenset()), None
        if batch is None:
            return False
        self._pushed += 1
        # Counted now, after the batch before was marked sent: what is unsent, this batch in it.
        queue = None if batch.more and self._pushed % QUEUE_EVERY else self.outbox.queue()[0]
        body = b'{"queue":%s,"settings_version":%s,"records":%s}' % (
            json.dumps(queue).encode(),
            json.dumps(self.state.settings_version).encode(),
            batch.records_json,
        )
        answer = self._post_in_background(body)
        upcoming = None
        if batch.more:
            # While the hub works: the batch after this one (its records are still unsent
            # until the answer comes, so they are left out by id).
            try:
                upcoming = self._read_batch(batch.ids)
            except Exception as exc:  # as if not read ahead: read again after the answer
                log.warning("sync: reading the next batch ahead failed: %s", exc)
        response = answer()  # the hub's answer, or its failure, raised here
        if response.status_code == 413:
            if self.batch_size == 1:
                raise HubError("中心拒收单条记录（过大）：请联系管理员查看这台门岗的记录")
            self.batch_size = max(1, self.batch_size // 2)
            log.warning("sync: batch too large, now %d records", self.batch_size)
            return True
        results = self._json(response).get("results")
        if not isinstance(results, list):
            raise HubError("中心的应答无法识别（没有逐条结果）：稍后自动重试")
        done = [
            r["id"]
            for r in results
            if isinstance(r, dict) and r.get("status") in ACKNOWLEDGED and r.get("id")
        ]
        for r in results:
            if isinstance(r, dict) and r.get("status") in (QUARANTINED, CONFLICT):
                log.error("sync: hub %s record %s: %s", r["status"], r.get("id"), r.get("reason"))
        if done:
            self.outbox.mark_sent(done, _now())
        # Read again, afresh, when a record of this batch was not answered for (it goes next)
        # or a record was written meanwhile (a fever goes ahead of what was read).
        if set(done) >= batch.ids and not self.wake.is_set():
            self._next = upcoming
        return batch.more

    def _post_in_background(self, body: bytes) -> Callable[[], requests.Response]:
        """POST a batch from a thread of its own, a daemon as the sync thread is (a request in
        flight never holds up the kiosk's exit); the call returned waits for the answer."""
        outcome: list[requests.Response | Exception] = []

        def post() -> None:
            try:
                outcome.append(self._request("POST", "/events", data=body, headers=JSON_BODY))
            except Exception as exc:
                outcome.append(exc)

        thread = threading.Thread(target=post, name="sync-send", daemon=True)
        thread.start()

        def answer() -> requests.Response:
            thread.join()
            [result] = outcome
            if isinstance(result, Exception):
                raise result
            return result

        return answer

    def _read_batch(self, leaving_out: frozenset[str]) -> Batch | None:
        """The next batch (and whether more wait behind it), without the records of
        ``leaving_out``, which are at the hub now; encoded as requests would (no NaN)."""
        rows = self.outbox.unsent_batch(self.batch_size + 1 + len(leaving_out))
        rows = [row for row in rows if row["id"] not in leaving_out]
        if not rows:
            return None
        more, rows = len(rows) > self.batch_size, rows[: self.batch_size]
        return Batch(
            ids=frozenset(row["id"] for row in rows),
            records_json=json.dumps(rows, allow_nan=False).encode(),
            more=more,
        )

    def reconcile(self) -> int:
        """Ask the hub what it holds; records it lost (restored from an older backup) are marked
        unsent so they go again. Returns how many."""
        body = self._json(self._request("GET", "/checkpoint"))
        held = {e["epoch"]: e["count"] for e in body.get("epochs", [])}
        self.state.hub_records = held.get(self.outbox.epoch, 0)
        ids = self.outbox.sent_ids()
        if self.state.hub_records >= len(ids):
            return 0
        lost: list[str] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            answer = self._json(self._request("POST", "/held", json={"ids": chunk}))
            have = set(answer.get("held", []))
            lost.extend(i for i in chunk if i not in have)
        if lost:
            log.warning(
                "sync: the hub lacks %d records it had acknowledged; sending again", len(lost)
            )
            self.outbox.mark_unsent(lost)
        return len(lost)

    # -- pulling -----------------------------------------------------------------------------

    def pull_roster(self) -> None:
        """Pull the roster page by page, each applied before the cursor moves. Every request
        reports the settings version in force; when a page changed it, one more request tells
        the hub at once instead of at the next round."""
        while True:
            said = self.state.settings_version
            params = {"since": self.state.roster_version, "limit": 500}
            if said is not None:
                params["settings_version"] = said
            body = self._json(self._request("GET", "/roster", params=params))
            changes = body.get("changes", [])
            if changes and self.on_roster is not None:
                self.on_roster(changes)  # applied and committed before the cursor moves
            self.state.roster_version = int(body.get("version", self.state.roster_version))
            # An old hub says no version: the kiosk cannot know it, and says none.
            self.state.settings_version = _version(body.get("settings_version"))
            self._save_state()
            if not body.get("more") and self.state.settings_version in (said, None):
                return

    # -- plumbing ----------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self._http.request(
            method,
            f"{self.hub_url}{API}{path}",
            timeout=self.timeout,
            verify=self._verify,
            **kwargs,
        )
        code = response.status_code
        if code < 400 or code == 413:
            return response
        said = _hub_message(response)  # None: the answer is not the hub's (a proxy's page)
        if code in (401, 403) and path != "/enrol" and said is not None:
            raise TokenRevoked(
                "本门岗的登记已被中心停用：请联系管理员发新的注册码，重新登记（kiosk enrol）"
            )
        if code == 429:
            raise RetryAfter(_retry_after(response))
        if code >= 500:
            raise HubError(f"中心出错（HTTP {code}）：记录已存本机，稍后自动重试")
        if said is None:
            raise HubError(
                f"应答不是中心的（HTTP {code}）：中心地址可能有误或被拦截，请联系安装人员"
                "检查 sync.hub_url；记录已存本机"
            )
        raise HubError(f"中心拒收了这次请求（HTTP {code}）：{said}")

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        body = response.json()
        if not isinstance(body, dict):
            raise HubError("中心的应答无法识别（不是 JSON 对象）：稍后自动重试")
        return body

    def _refresh_queue(self) -> None:
        self.state.queue, self.state.oldest_unsent = self.outbox.queue()
        self._save_state()

    def _load_state(self) -> dict[str, Any]:
        return self.outbox.load_sync_state()

    def _save_state(self) -> None:
        self.outbox.save_sync_state(asdict(self.state))


class HubError(Exception):
    """The hub answered, but not usefully (5xx, a refusal, a malformed answer)."""


class RetryAfter(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__("中心繁忙：稍后自动重试，记录已存本机")
        self.seconds = seconds


def problem_words(exc: BaseException) -> str:
    """What the guard screen and ``kiosk status`` say for a failed round (the exception's own
    text goes to the log): what happened, and that the records are safe on the kiosk."""
    kept = "记录已存本机，恢复后自动上传"
    if isinstance(exc, HubError):
        return str(exc)
    if isinstance(
        exc,
        requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidURL,
    ):
        return f"中心地址（sync.hub_url）写法有误，例如应为 https://hub.example.cn：请联系安装人员；{kept}"
    if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
        if "certificate" in str(exc).lower():  # requests: "Could not find a suitable TLS CA …"
            return f"找不到 sync.ca_file 指定的证书文件：请联系安装人员；{kept}"
        return f"与中心通信出错：{kept}"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"与中心的加密连接失败（证书不符？请检查 sync.ca_file）：{kept}"
    if isinstance(exc, requests.Timeout):
        return f"中心没有及时应答：{kept}"
    if isinstance(exc, requests.ConnectionError):
        return f"连不上中心（网络断开或中心未运行）：{kept}"
    if isinstance(exc, ValueError):  # the answer is not JSON
        return "中心的应答无法识别：稍后自动重试"
    return f"与中心通信出错：{kept}"


def _hub_message(response: requests.Response) -> str | None:
    """The hub's own words for a refusal (its error bodies are JSON with a message), or None
    when the answer is someone else's (a proxy's or a firewall's HTML page)."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return None
    return str(message)[:200] if message else None


def _retry_after(response: requests.Response) -> float:
    try:
        return min(600.0, max(1.0, float(response.headers.get("Retry-After", "5"))))
    except ValueError:
        return 5.0


def _version(value: Any) -> int | None:
    """A settings version as the hub or the saved state gave it, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_state(outbox: Outbox) -> dict[str, Any]:
    """The last state a sync client saved (for ``kiosk status`` in another process)."""
    state = outbox.load_sync_state()
    state["queue"] = outbox.queue()[0]
    return state
