"""TCP ports for the kiosk, the hub and the demo: is one free, find a free one, and say in one
Chinese-first line why a server could not listen."""

from __future__ import annotations

import errno
import socket


def port_is_free(host: str, port: int) -> bool:
    """True when a server could listen on ``host:port`` now (nothing else holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port the system says is free (it may be taken again before it is used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def listen_error(host: str, port: int, exc: OSError, setting: str) -> str:
    """One line for a server that could not listen; ``setting`` is where the port is chosen."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"端口 {port} 已被占用（address already in use: {where}）："
            f"另一个程序在用它。停掉那个程序，或用 {setting} 换一个端口"
        )
    if exc.errno == errno.EACCES:
        return (
            f"没有权限使用端口 {port}（permission denied: {where}）："
            f"用 1024 以上的端口（{setting}）"
        )
    if exc.errno in (errno.EADDRNOTAVAIL,):
        return f"本机没有地址 {host}（address not available: {where}）：检查监听地址"
    return f"无法在 {where} 监听（cannot listen）：{exc.strerror or exc}"
