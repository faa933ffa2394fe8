"""CPU time and memory of a process and all its descendants, read from /proc (Linux).

`TreeUsage.sample(pid)` reads the tree once; `TreeMonitor(pid)` samples it on a thread so that
children which exit before the end are still counted (their last sample), and `peak_rss_mb` is
the largest SUM of the tree's resident sets seen at one instant (what the machine had to hold),
next to `sum_of_peaks_mb` (each process's own high-water mark `VmHWM`, summed: an upper bound).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_MB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) / (1024 * 1024)


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (children of any of its threads), parents first."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(_children(current))
    return found


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            kids.extend(int(child) for child in text.split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return kids
    return kids


def _stat(pid: int) -> tuple[float, float] | None:
    """(CPU seconds of the process itself, user + system; RSS MB) or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": fields[0] is field 3, state
    utime, stime, rss_pages = int(fields[11]), int(fields[12]), int(fields[21])
    return (utime + stime) / _TICKS, rss_pages * _PAGE_MB


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


# The local stack's processes by what their command line runs (anything else: the stack itself).
_ROLES = (("local_stack.moto_process", "moto"), ("local_stack.standin_process", "stand-in"))


def role(pid: int) -> str:
    """"moto", "stand-in" or "stack": which of the local stack's processes ``pid`` is."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return "stack"
    return next((name for marker, name in _ROLES if marker in command), "stack")


@dataclass
class TreeUsage:
    """One reading of a process tree: CPU seconds and resident memory, per pid and summed."""

    cpu_s: dict[int, float] = field(default_factory=dict)
    rss_mb: dict[int, float] = field(default_factory=dict)
    hwm_mb: dict[int, float] = field(default_factory=dict)

    @classmethod
    def sample(cls, pid: int) -> TreeUsage:
        usage = cls()
        for member in descendants(pid):
            stat = _stat(member)
            if stat is None:
                continue
            usage.cpu_s[member], usage.rss_mb[member] = stat
            usage.hwm_mb[member] = _hwm_mb(member)
        return usage

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_s.values())

    @property
    def total_rss_mb(self) -> float:
        return sum(self.rss_mb.values())


class TreeMonitor:
    """Samples a process tree every `interval_s` until `stop()`; `with TreeMonitor(pid) as m:`.

    `cpu_s` is the CPU time the tree used since the monitor started (processes that started
    later count from zero; those that ended count up to their last sample), `peak_rss_mb` the
    largest summed RSS, `sum_of_peaks_mb` the processes' own high-water marks summed,
    `processes` how many distinct pids were seen."""

    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._start = TreeUsage.sample(pid)
        self._last_cpu: dict[int, float] = dict(self._start.cpu_s)
        self._hwm: dict[int, float] = dict(self._start.hwm_mb)
        self.peak_rss_mb = self._start.total_rss_mb
        self._roles: dict[int, str] = {pid: role(pid) for pid in self._start.cpu_s}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tree-monitor", daemon=True)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        usage = TreeUsage.sample(self.pid)
        with self._lock:
            self._last_cpu.update(usage.cpu_s)
            for pid, peak in usage.hwm_mb.items():  # a zombie reads 0: keep what was seen
                self._hwm[pid] = max(self._hwm.get(pid, 0.0), peak)
            for pid in usage.cpu_s.keys() - self._roles.keys():
                self._roles[pid] = role(pid)
            self.peak_rss_mb = max(self.peak_rss_mb, usage.total_rss_mb)

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    @property
    def cpu_s(self) -> float:
        with self._lock:
            return sum(cpu - self._start.cpu_s.get(pid, 0.0) for pid, cpu in self._last_cpu.items())

    @property
    def cpu_by_pid(self) -> dict[int, float]:
        with self._lock:
            return {pid: cpu - self._start.cpu_s.get(pid, 0.0) for pid, cpu in self._last_cpu.items()}

    def by_role(self) -> dict[str, tuple[float, float]]:
        """Per role of the local stack's processes: (CPU seconds during the block, VmHWM MB)."""
        roles: dict[str, tuple[float, float]] = {}
        with self._lock:
            for pid, cpu in self._last_cpu.items():
                name = self._roles.get(pid, "stack")
                spent, peak = roles.get(name, (0.0, 0.0))
                roles[name] = (spent + cpu - self._start.cpu_s.get(pid, 0.0), peak + self._hwm.get(pid, 0.0))
        return roles

    @property
    def sum_of_peaks_mb(self) -> float:
        with self._lock:
            return sum(self._hwm.values())

    @property
    def processes(self) -> int:
        return len(self._last_cpu)


def tree_cpu_and_peak_rss(pid: int) -> tuple[float, float]:
    """(CPU seconds since start, summed VmHWM MB) of the live tree under `pid`: one reading, for
    callers without a monitor. Exited children's CPU is in their parent's only once reaped."""
    usage = TreeUsage.sample(pid)
    return usage.total_cpu_s, sum(usage.hwm_mb.values())
