"""Enrolling this kiosk with a hub, and where its credentials live: the hub's token, the chain
key and the visitor ID key, each in its own 0600 file in the data directory (never inside the
ledger, so that a copy of the database alone can neither sync, nor re-key records, nor test
guesses of a visitor's ID number)."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import Config
from kiosk.ledger import Ledger, save_chain_key
from kiosk.visitor_ids import save_visitor_id_key
from sync.enrolment import EnrolmentError, enrol
from sync.ops.secrets import write_secret

TOKEN_FILE = "hub_token"


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def save_token(data_dir: Path, token: str) -> None:
    write_secret(token_path(data_dir), token.encode())


def read_token(data_dir: Path) -> str | None:
    """The hub's token, or None before the kiosk is enrolled."""
    try:
        return token_path(data_dir).read_text().strip() or None
    except FileNotFoundError:
        return None


def enrol_kiosk(config: Config, ledger: Ledger, code: str, hub_url: str) -> str:
    """Enrol at ``hub_url`` with the admin's one-time code; keep the token and chain key. Returns
    the kiosk id the hub enrolled. Raises :class:`EnrolmentError` (nothing saved)."""
    # The hub keys the chain from the ledger's head on: records written after this moment
    # must carry a mac made with the key it answers with.
    epoch, next_seq = ledger.head()
    enrolment = enrol(hub_url, code, epoch=epoch, next_seq=next_seq, ca_file=config.sync.ca_file)
    if enrolment.kiosk_id != config.kiosk.id:
        raise EnrolmentError(
            f"这个注册码属于门岗 {enrolment.kiosk_id!r}，本机是 {config.kiosk.id!r}"
            f"（this code is for kiosk {enrolment.kiosk_id!r}, this kiosk is"
            f" {config.kiosk.id!r}）：请让管理员为 {config.kiosk.id} 生成注册码"
        )
    if enrolment.chain_key is not None:
        save_chain_key(config.data_dir, enrolment.chain_key)
    if enrolment.visitor_id_key is not None:
        save_visitor_id_key(config.data_dir, enrolment.visitor_id_key)
    save_token(config.data_dir, enrolment.token)
    return enrolment.kiosk_id
