"""CPU time and peak memory of the system under test, from `/proc`: every process of the
`zs up` tree and PostgreSQL's backends of the benchmark's database, sampled while a phase runs.

A process's CPU is `utime + stime` of `/proc/<pid>/stat` (this process alone, not its
children), its peak memory `VmHWM` of `/proc/<pid>/status`; a process that ends between two
samples keeps what its last sample saw. CPU per message is the sum over every process divided
by the messages.
"""

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
SAMPLE_EVERY_S = 0.5
SELECT_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"


@dataclass
class Seen:
    """What the samples saw of one process."""

    label: str
    first_cpu_s: float
    last_cpu_s: float
    peak_rss_mb: float


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of `pid` in seconds (None when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after the command, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def peak_rss_mb(pid: int) -> float:
    """VmHWM of `pid` in MB (0 when gone or not shown)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def label_of(pid: int) -> str:
    """A short name: `zs <command>` for the services, else the program."""
    try:
        words = [w.decode(errors="replace") for w in
                 Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if w]  # fmt: skip
    except OSError:
        return "?"
    for index, word in enumerate(words):
        if Path(word).name == "zs" and index + 1 < len(words):
            return f"zs {words[index + 1]}"
    return Path(words[0]).name if words else "?"


def tree(root: int) -> list[int]:
    """`root` and every process under it."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return found


@dataclass
class Sampler:
    """Samples the tree under `root` and the database's backends until stopped."""

    root: int
    database_url: str
    database: str
    seen: dict[int, Seen] = field(default_factory=dict)

    def sample(self, pids: list[int], label: str | None = None) -> None:
        for pid in pids:
            cpu = cpu_seconds(pid)
            if cpu is None:
                continue
            if pid not in self.seen:
                self.seen[pid] = Seen(label or label_of(pid), cpu, cpu, 0.0)
            entry = self.seen[pid]
            entry.last_cpu_s = cpu
            entry.peak_rss_mb = max(entry.peak_rss_mb, peak_rss_mb(pid))

    async def run(self) -> None:
        """Sample every `SAMPLE_EVERY_S` until cancelled."""
        connection = await asyncpg.connect(self.database_url)
        try:
            while True:
                self.sample(tree(self.root))
                backends = await connection.fetch(SELECT_BACKENDS, self.database)
                self.sample([row["pid"] for row in backends], "postgres backend")
                await asyncio.sleep(SAMPLE_EVERY_S)
        finally:
            await connection.close()

    def by_label(self) -> dict[str, dict[str, float]]:
        """CPU seconds used while sampled, processes, and the largest peak RSS, per label."""
        totals: dict[str, dict[str, float]] = {}
        for entry in self.seen.values():
            total = totals.setdefault(
                entry.label, {"cpu_s": 0.0, "processes": 0, "peak_rss_mb": 0.0}
            )
            total["cpu_s"] += entry.last_cpu_s - entry.first_cpu_s
            total["processes"] += 1
            total["peak_rss_mb"] = max(total["peak_rss_mb"], entry.peak_rss_mb)
        return dict(sorted(totals.items(), key=lambda item: -item[1]["cpu_s"]))

    def tree_peak_rss_mb(self) -> float:
        """The sum of the peaks of the `zs` processes (not PostgreSQL's backends): an upper
        bound of the tree's peak, each process's peak counted as if at the same moment."""
        return sum(e.peak_rss_mb for e in self.seen.values() if e.label != "postgres backend")
