"""Where the ``kiosk`` and ``hub`` commands log, and how it looks.

Under systemd (stderr is the journal's stream, ``$JOURNAL_STREAM``) every line carries the
syslog priority prefix (``<6>``) that journald turns into the entry's level, and no time (journald
adds it). In a terminal a line reads ``09:14:02 信息 kiosk gate-1 serving on …``, in local time.
Normal news (serving, a sensor that recovered) is INFO; WARNING is for what someone should look at.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, tzinfo
from typing import TextIO

import click

from sync.localtime import DEFAULT_ZONE, format_local, zone

# Syslog priorities (sd-daemon.h) for journald's level prefix.
_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
_WORD = {
    logging.DEBUG: "调试",
    logging.INFO: "信息",
    logging.WARNING: "警告",
    logging.ERROR: "错误",
    logging.CRITICAL: "严重",
}


def level_for(verbose: bool, quiet: bool) -> int:
    """INFO by default; ``--verbose`` adds DEBUG, ``--quiet`` keeps only warnings and errors."""
    if verbose:
        return logging.DEBUG
    if quiet:
        return logging.WARNING
    return logging.INFO


def is_journal(stream: TextIO) -> bool:
    """True when ``stream`` is the journal's socket (systemd sets ``JOURNAL_STREAM=dev:ino``)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if ":" not in expected:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{stat.st_dev}:{stat.st_ino}"


class JournalFormatter(logging.Formatter):
    """``<6>name: message``: journald reads the level from the prefix and adds the time."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        # A traceback's lines keep the record's priority too.
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


class TerminalFormatter(logging.Formatter):
    """``09:14:02 信息 message`` in the compound's zone (``kiosk.timezone`` once the config is
    read); the logger's name only at DEBUG."""

    tz: tzinfo = zone(DEFAULT_ZONE)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        word = _WORD.get(record.levelno, record.levelname)
        name = f"{record.name}: " if record.levelno <= logging.DEBUG else ""
        stamp = format_local(
            datetime.fromtimestamp(record.created).astimezone(), self.tz, "%H:%M:%S"
        )
        line = f"{stamp} {word} {name}{record.message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


CHATTY_LIBRARIES = ("fontTools",)


def setup_logging(verbose: bool = False, quiet: bool = False, stream: TextIO | None = None) -> None:
    """Configure the root logger once for a command (replacing any earlier handler)."""
    stream = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    if is_journal(stream):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(TerminalFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_for(verbose, quiet))
    # Libraries that talk at INFO about their own work: fontTools logs a line per glyph table
    # each time a PDF embeds the Chinese font (a hundred lines per register). Theirs only with -v.
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


def set_log_zone(tz: tzinfo) -> None:
    """Show terminal log times in ``tz`` (the kiosk's ``kiosk.timezone``)."""
    TerminalFormatter.tz = tz


LOG_FLAGS = (
    ("-v", "--verbose", "Log more (DEBUG). 详细日志"),
    ("-q", "--quiet", "Only warnings and errors. 只显示警告和错误"),
)


def configure_from_context() -> None:
    """Set up logging from the ``--verbose``/``--quiet`` seen so far in this command line."""
    root = click.get_current_context().find_root()
    setup_logging(
        verbose=root.meta.get("menwei.verbose", False), quiet=root.meta.get("menwei.quiet", False)
    )


def _remember(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_root().meta[f"menwei.{param.name}"] = True
        configure_from_context()


def add_log_options(command: click.Command) -> None:
    """Give ``command`` (a group: itself and every command under it) ``--verbose`` and
    ``--quiet``, so that ``kiosk serve --verbose`` works as well as ``kiosk --verbose serve``."""
    names = {p.name for p in command.params}
    for short, long, text in LOG_FLAGS:
        if long[2:] not in names:
            option = click.Option(
                [short, long], is_flag=True, expose_value=False, callback=_remember, help=text
            )
            command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_log_options(sub)


def is_quiet() -> bool:
    """True when the running command was given ``--quiet`` (at the group or the command)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().meta.get("menwei.quiet"))
