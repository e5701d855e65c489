"""The kiosk's side of enrolment: trade the admin's one-time code for the kiosk's own token and
chain key (``POST /api/v1/enrol``, docs/sync-protocol.md). Saving them is the kiosk's business
(``kiosk/enrolment.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from sync.protocol import API


class EnrolmentError(Exception):
    """The enrolment did not happen; the message says why and what to do."""


@dataclass(frozen=True)
class Enrolment:
    kiosk_id: str
    token: str
    chain_key: bytes | None  # None from a hub without the keyed chain
    # The key for visitors' ID numbers (docs/schema.md); None from a hub from before it.
    visitor_id_key: bytes | None = None


def enrol(
    hub_url: str,
    code: str,
    *,
    epoch: str,
    next_seq: int,
    ca_file: str | None = None,
    timeout: float = 10.0,
) -> Enrolment:
    """Enrol at the hub. ``epoch``/``next_seq`` are the ledger's head: the hub expects a valid
    mac on every record from there on."""
    url = f"{hub_url.rstrip('/')}{API}/enrol"
    try:
        response = requests.post(
            url,
            json={"code": code, "epoch": epoch, "next_seq": next_seq},
            timeout=timeout,
            verify=ca_file or True,
        )
    except requests.RequestException as exc:
        raise EnrolmentError(
            f"连不上中心（cannot reach the hub at {hub_url}）：{exc}。请检查网址和网络后重试"
        ) from None
    if response.status_code != 200:
        raise EnrolmentError(
            f"中心拒绝了注册（the hub refused）：{response.text[:200]}。请向管理员要新的注册码"
        )
    try:
        body = response.json()
        key = body.get("chain_key")
        visitor_key = body.get("visitor_id_key")
        return Enrolment(
            str(body["kiosk_id"]),
            str(body["token"]),
            bytes.fromhex(key) if key else None,
            bytes.fromhex(visitor_key) if visitor_key else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise EnrolmentError(
            f"中心的回答无法识别（the hub's answer is not an enrolment）：{response.text[:200]}"
        ) from None
