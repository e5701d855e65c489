"""Which hub addresses a kiosk may talk to in the clear.

Enrolment sends the kiosk's token and chain key, and every batch carries visitors' phones: over
plain ``http://`` anyone on the network reads them. A hub on this machine (loopback: the demo,
tests, an SSH tunnel) is the one exception, unless the operator says otherwise
(``sync.allow_plain_http``), and then the guard screen and ``kiosk doctor`` say so.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_problem(url: str) -> str | None:
    """Why ``url`` would send secrets in the clear (Chinese first), or None: ``https://``, or
    ``http://`` to this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname or ""):
        return None
    return (
        f"中心地址 {url} 不是 https：令牌、链密钥和访客电话会以明文经过网络。"
        "请改用 https://（见 docs/install.md），或确需明文时设置 sync.allow_plain_http = true"
        f" (the hub address {url} is not https)"
    )


def refused(url: str, allow_plain_http: bool) -> str | None:
    """The refusal for ``url``, or None when it may be used (https, loopback, or allowed)."""
    problem = plain_http_problem(url)
    return None if allow_plain_http else problem
