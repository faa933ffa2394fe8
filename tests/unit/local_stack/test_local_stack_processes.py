"""The stack's processes: fewer malloc arenas in each (thousands of threads in moto's)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from local_stack import children

pytestmark = pytest.mark.unit


def test_given_glibc_when_a_process_asks_for_fewer_arenas_then_many_threads_share_two() -> None:
    """malloc_info lists one <heap> per arena: 16 threads allocating get their own arenas
    without the call (up to 8 x cores), two with it."""
    script = textwrap.dedent(
        """
        import ctypes, ctypes.util, os, sys, tempfile, threading
        from local_stack.children import lean_malloc
        if sys.argv[1] == "fewer":
            assert lean_malloc(trim_every=0.05)
            assert any(t.name == "malloc-trim" and t.daemon for t in threading.enumerate())
        barrier = threading.Barrier(16)
        def work():
            barrier.wait()
            keep = [bytearray(2048) for _ in range(200)]
            barrier.wait()
        threads = [threading.Thread(target=work) for _ in range(16)]
        [t.start() for t in threads]; [t.join() for t in threads]
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.fopen.restype = ctypes.c_void_p
        path = tempfile.mktemp()
        stream = libc.fopen(path.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream)); libc.fclose(ctypes.c_void_p(stream))
        print(open(path).read().count("<heap nr="))
        """
    )
    counts = {mode: int(subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True,
                                       check=True, cwd=str(children.ROOT)).stdout.strip())
              for mode in ("default", "fewer")}
    assert counts["fewer"] <= children.STACK_MALLOC_ARENAS < counts["default"], counts


def test_given_no_c_library_found_then_fewer_arenas_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(children.ctypes.util, "find_library", lambda name: None)
    assert children.lean_malloc() is False


def test_given_the_stacks_processes_when_monitored_then_cpu_and_memory_are_told_by_role() -> None:
    from tests.support.process_tree import TreeMonitor

    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(0.5)"
    # The parent names its children's modules only in their command lines, not in its own.
    spawn = ("import subprocess, sys; children = [subprocess.Popen([sys.executable, '-c', sys.argv[1], 'local_stack.' + m])"
             " for m in ('moto_process', 'standin_process')]; [c.wait() for c in children]")
    with subprocess.Popen([sys.executable, "-c", spawn, burn]) as parent, \
            TreeMonitor(parent.pid, interval_s=0.05) as usage:
        parent.wait(10)
    roles = usage.by_role()
    assert set(roles) == {"stack", "moto", "stand-in"}
    assert roles["moto"][0] >= 0.2 and roles["stand-in"][0] >= 0.2  # each burnt 0.3 s of CPU
    assert all(peak > 0 for _, peak in roles.values())
