"""SMBus Packet Error Code: CRC-8 with polynomial 0x07 (x^8 + x^2 + x + 1), initial value 0."""

from __future__ import annotations

from collections.abc import Iterable


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc8(data: Iterable[int]) -> int:
    """CRC-8/SMBus of ``data``."""
    crc = 0
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc


def read_word_pec(address: int, command: int, lsb: int, msb: int) -> int:
    """PEC of a Read Word: address+W, command, address+R, LSB, MSB."""
    return crc8((address << 1, command, (address << 1) | 1, lsb, msb))


def write_word_pec(address: int, command: int, lsb: int, msb: int) -> int:
    """PEC of a Write Word: address+W, command, LSB, MSB."""
    return crc8((address << 1, command, lsb, msb))
