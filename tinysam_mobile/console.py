"""Quiet third-party output: our messages on the console, everything else in a log.

Converters and runtimes (torch.export, torchao, LiteRT-Torch, ai-edge-quantizer, coremltools,
absl) print progress bars, warnings and notes, much of it from C/C++ straight to file
descriptors 1 and 2. Inside :func:`quiet`, fds 1 and 2, ``sys.stdout``/``sys.stderr``, Python
warnings and logging go to a temporary log, and :func:`out` / :func:`err` are the streams that
still reach the user. When the work fails, the log's last lines are shown with the error. Known
warnings that matter are repeated in our words (:data:`REPHRASED`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import IO, TextIO

TAIL_LINES = 30

# third-party warning message (regex) -> what it means here, said once per scope when it happens
REPHRASED: dict[str, str] = {
    r"overflow encountered in cast": "some constants exceed the float16 range (±65504) and became ±inf "
    "in the float16 program (the parity check measures whether that matters)",
}

_consoles: list[tuple[TextIO, TextIO]] = []


def out() -> TextIO:
    """The user's stdout (the real one even inside :func:`quiet`)."""
    return _consoles[-1][0] if _consoles else sys.stdout


def err() -> TextIO:
    """The user's stderr (the real one even inside :func:`quiet`)."""
    return _consoles[-1][1] if _consoles else sys.stderr


def _fileno(stream: IO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextlib.contextmanager
def _logging_disabled() -> Iterator[None]:
    old = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(old)


@contextlib.contextmanager
def _redirected_fds(log: IO[bytes]) -> Iterator[tuple[TextIO, TextIO]]:
    """Point fds 1 and 2 at ``log``; yield text streams on copies of the previous stdout/stderr."""
    streams = []
    for stream in (sys.stdout, sys.stderr):
        fd = _fileno(stream)
        assert fd is not None
        stream.flush()
        encoding = getattr(stream, "encoding", None) or "utf-8"
        streams.append(open(os.dup(fd), "w", buffering=1, encoding=encoding, errors="replace"))  # noqa: SIM115
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield streams[0], streams[1]
    finally:
        for stream in streams:
            stream.flush()
        with contextlib.suppress(OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for stream in streams:
            stream.close()


def _tail(log: IO[bytes], lines: int = TAIL_LINES) -> list[str]:
    log.flush()
    log.seek(0)
    text = log.read().decode("utf-8", errors="replace").replace("\r", "\n")
    return [line for line in text.splitlines() if line.strip()][-lines:]


@contextlib.contextmanager
def _warnings_to(log: TextIO, console_err: TextIO) -> Iterator[None]:
    """Known warnings (:data:`REPHRASED`) said once in our words on ``console_err``, others to ``log``."""
    said: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        for pattern, ours in REPHRASED.items():
            if re.search(pattern, str(message)):
                if ours not in said:
                    said.add(ours)
                    print(f"warning: {ours}", file=console_err, flush=True)
                return
        log.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def quiet(verbose: bool = False, expected: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Send third-party output to a temporary log for the duration of the block.

    ``verbose``: do nothing (everything is shown). When the block raises anything but
    ``SystemExit``, ``KeyboardInterrupt`` or an ``expected`` error, the log's last
    :data:`TAIL_LINES` lines go to :func:`err` before the exception propagates. Where stdout or
    stderr has no file descriptor (e.g. pytest's ``capsys``), only Python-level output is captured.
    """
    if verbose:
        yield
        return
    fd_level = _fileno(sys.stdout) is not None and _fileno(sys.stderr) is not None
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(tempfile.TemporaryFile())
        if fd_level:
            console = stack.enter_context(_redirected_fds(log))
            text_log = stack.enter_context(open(os.dup(log.fileno()), "w", buffering=1, errors="replace"))
        else:
            console = (sys.stdout, sys.stderr)
            text_log = io.TextIOWrapper(log, write_through=True, errors="replace")
            stack.callback(text_log.detach)  # leave ``log`` open for the tail
        stack.enter_context(contextlib.redirect_stdout(text_log))
        stack.enter_context(contextlib.redirect_stderr(text_log))
        stack.enter_context(_env("TQDM_DISABLE", "1"))  # read when tqdm is imported
        stack.enter_context(_logging_disabled())
        stack.enter_context(_warnings_to(text_log, console[1]))
        _consoles.append(console)
        stack.callback(_consoles.pop)
        try:
            yield
        except (SystemExit, KeyboardInterrupt, *expected):
            raise
        except BaseException:
            text_log.flush()
            tail = _tail(log)
            if tail:
                print(f"--- last {len(tail)} lines of third-party output ---", file=console[1])
                print("\n".join(tail), file=console[1])
                print("--- (run with --verbose to see all of it) ---", file=console[1], flush=True)
            raise
