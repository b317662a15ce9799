"""How many CPU threads torch should use, decided before torch is imported.

Beside other CPU-bound work, torch's OpenMP threads spin-wait for one another
on busy cores: two 2-thread torch processes on a 2-core machine ran 7.3 s per
iteration against 0.13 s alone, and 0.16-0.22 s with one thread or a passive
wait policy. So the long-running commands (``optimize``, ``proxy train``) by
default

* set ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep instead of spinning) unless the
  environment sets it, or ``ACTIVE`` for ``optimize`` when it runs several threads on an
  idle machine (see :func:`configure`); it must be set before torch starts its thread pool;
* use as many threads as there are free CPUs: the CPUs this process may run
  on (``os.sched_getaffinity``, and a cgroup CPU quota) less the busy ones
  (other runnable tasks from ``/proc/loadavg``: the lower of the one-minute
  load and the number running now, scaled to our share of the machine's
  CPUs), divided among the local ranks of a distributed run, at least 1;

unless ``--threads N`` or ``OMP_NUM_THREADS`` says how many.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import MutableMapping


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count chosen and why."""

    threads: int
    cpus: int  # CPUs available to this process
    busy: float  # of them, busy with other work (estimate)
    source: str  # "--threads", "OMP_NUM_THREADS" or "free CPUs"
    wait_policy: str  # OMP_WAIT_POLICY in effect
    policy_ours: bool  # True when we set it

    def describe(self) -> str:
        """One line for the log."""
        why = {"--threads": "as --threads asks", "OMP_NUM_THREADS": "as OMP_NUM_THREADS asks"}.get(
            self.source, f"{self.busy:.1f} busy with other work")
        policy = f"OMP_WAIT_POLICY={self.wait_policy}" + (" (set by proxymat; export it to choose)" if self.policy_ours else "")
        return f"threads: {self.threads} of {self.cpus} CPU(s), {why}; {policy}"


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its affinity set, capped by a cgroup v2 CPU quota when there is one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period) + 0.5)))
    except (OSError, ValueError):
        pass
    return max(cpus, 1)


def busy_cpus(cpus: int, loadavg: str | None = None, machine_cpus: int | None = None) -> float:
    """Estimated CPUs of ours kept busy by other tasks, from ``/proc/loadavg``'s text (0 when unknown):
    the lower of the one-minute load and the tasks running now (ourselves left out), times our share
    ``cpus / machine_cpus`` of the machine's CPUs."""
    if loadavg is None:
        try:
            loadavg = Path("/proc/loadavg").read_text()
        except OSError:
            return 0.0
    try:
        fields = loadavg.split()
        load1, running = float(fields[0]), int(fields[3].split("/")[0]) - 1
    except (IndexError, ValueError):
        return 0.0
    share = cpus / max(machine_cpus or os.cpu_count() or cpus, cpus)
    return max(0.0, min(load1, float(running))) * share


def choose_threads(cpus: int, busy: float, ranks: int = 1) -> int:
    """Free CPUs (``cpus`` less ``busy``, rounded) per local rank, at least 1."""
    return max(1, (cpus - int(busy + 0.5)) // max(ranks, 1))


def configure(requested: int | None, environ: MutableMapping[str, str] | None = None,
              loadavg: str | None = None, spin_when_idle: bool = False) -> ThreadChoice:
    """Choose the thread count: ``requested`` (``--threads``), else ``OMP_NUM_THREADS``, else the free CPUs;
    and set ``OMP_WAIT_POLICY`` in ``environ`` (default ``os.environ``) unless it is set: ``PASSIVE``, or,
    with ``spin_when_idle``, ``ACTIVE`` when several threads run on a machine with nothing else busy.

    Measured on 2 cores (the default example, ``optimize``, 2 threads): quiet, ACTIVE took 68 s and
    PASSIVE 121 s (1 thread: 108 s); with a busy process starting 8 s into the run, 187 s and 138 s. So
    spinning halves a run on an idle machine and costs a third more when other work arrives later;
    ``optimize`` (minutes) takes that trade, ``proxy train`` (hours, more likely to meet other work) not."""
    env = os.environ if environ is None else environ
    cpus = available_cpus()
    busy = busy_cpus(cpus, loadavg)
    if requested:
        threads, source = int(requested), "--threads"
    elif env.get("OMP_NUM_THREADS", "").strip().isdigit() and int(env["OMP_NUM_THREADS"]) > 0:
        threads, source = int(env["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    else:
        ranks = int(env["LOCAL_WORLD_SIZE"]) if env.get("LOCAL_WORLD_SIZE", "").isdigit() else 1
        threads, source = choose_threads(cpus, busy, ranks), "free CPUs"
    ours = "OMP_WAIT_POLICY" not in env
    if ours:
        idle = int(busy + 0.5) == 0 and threads <= cpus
        env["OMP_WAIT_POLICY"] = "ACTIVE" if spin_when_idle and threads > 1 and idle else "PASSIVE"
    return ThreadChoice(threads, cpus, busy, source, env["OMP_WAIT_POLICY"], ours)
