"""Child processes of the stack: started with a pre-bound listening socket, tied to the parent's
life, stopped on demand, and reported when they end on their own.

A child gets the read end of a pipe (its "lifeline"); the parent keeps the write end. When the
parent closes it (stop) or dies in any way (Ctrl-C, SIGTERM, SIGKILL, a crash), the read returns
end-of-file and the child exits at once: nothing is left behind. `PR_SET_PDEATHSIG` is set too
when the child is started from the main thread (it follows the creating *thread*).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ChildProcess:
    """`python -m <module> --fd N --lifeline M [args]` with the socket `sock` and a lifeline."""

    def __init__(
        self,
        name: str,
        module: str,
        sock: socket.socket,
        env: Mapping[str, str],
        args: Sequence[str] = (),
        on_exit: Callable[[str, int], None] | None = None,
    ) -> None:
        self.name = name
        self.module = module
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.env = dict(env)
        self.args = list(args)
        self.on_exit = on_exit
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._lifeline: int | None = None
        self._stopping = False
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        read_end, write_end = os.pipe()
        fd = self.sock.fileno()
        env = {**self.env, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [self.env.get("PYTHONPATH")])])}
        command = [sys.executable, "-m", self.module, "--fd", str(fd), "--lifeline", str(read_end), *self.args]
        in_main_thread = threading.current_thread() is threading.main_thread()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own module, this interpreter
                command,
                cwd=ROOT,
                env=env,
                pass_fds=(fd, read_end),
                start_new_session=True,  # the terminal's Ctrl-C reaches the parent only; it stops us
                preexec_fn=_parent_death_signal if in_main_thread else None,
            )
        finally:
            os.close(read_end)
            self.sock.close()  # the child's now: once it is gone, connections are refused, not queued
        self._lifeline = write_end
        self._watcher = threading.Thread(target=self._watch, name=f"{self.name}-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        assert self.process is not None
        self.returncode = self.process.wait()
        if not self._stopping and self.on_exit is not None:
            self.on_exit(self.name, self.returncode)

    def wait_ready(self, path: str = "/health", timeout: float = 15.0) -> None:
        """Until `GET path` answers 2xx; raises if the child exits or the time runs out."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise RuntimeError(f"{self.name} exited with code {code} while starting")
            try:
                with urllib.request.urlopen(self.url + path, timeout=1) as response:  # noqa: S310 - our child
                    if 200 <= response.status < 300:
                        return
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not answer {path} within {timeout}s ({last})")

    def stop(self, timeout: float = 2.0) -> None:
        """Close the lifeline (the child exits at once); SIGKILL if it has not after `timeout`."""
        self._stopping = True
        if self._lifeline is not None:
            with contextlib.suppress(OSError):
                os.close(self._lifeline)
            self._lifeline = None
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        if self._watcher is not None:
            self._watcher.join(timeout)


# -- the child's side ----------------------------------------------------------------------------


def follow_lifeline(fd: int) -> None:
    """In the child: exit the moment the parent closes the lifeline or dies."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
        os._exit(0)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def inherited_socket(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


# glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8
STACK_MALLOC_ARENAS = 2


TRIM_EVERY_SECONDS = 2.0


def lean_malloc(arenas: int = STACK_MALLOC_ARENAS, trim_every: float = TRIM_EVERY_SECONDS) -> bool:
    """Each of the stack's processes runs hundreds to thousands of threads (one per in-flight
    invocation or Map iteration); glibc gives threads up to 8 x cores malloc arenas, each keeping
    its own freed memory. Two arenas hold what a 30 x 40 batch needs with less resident memory
    (MALLOC_ARENA_MAX, set from inside: call before threads start), and a daemon thread hands
    freed pages back every ``trim_every`` seconds (malloc_trim: a bursty server frees far more
    than it keeps). False where it is not glibc."""
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(name)
        limited = bool(libc.mallopt(_M_ARENA_MAX, arenas))
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    if trim_every > 0:

        def trim_forever() -> None:
            while True:
                time.sleep(trim_every)
                trim(0)

        threading.Thread(target=trim_forever, name="malloc-trim", daemon=True).start()
    return limited
