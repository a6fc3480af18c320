"""Who drives a job: a lease on its ledger row, renewed while the driving process lives.

Each runner has an owner id naming its host, process and process start time. It renews the lease of
every job it drives; a job whose lease lapsed (its process died, or hangs) may be claimed by any
other live server on the same ledger, which resumes it from the ledger exactly as a restart would
(so a create request is never sent twice: a job caught mid-create ends `unknown`).

On the same host a dead owner is recognised at once from its process id and start time (also when
the process was killed and not yet reaped), so a crash is taken over without waiting for the lease
to lapse. Anything we cannot check (another host, another PID namespace, a reused PID) counts as
alive until its lease lapses: taking over a live job is the one mistake this must never make.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache
from pathlib import Path


@cache
def _host_key() -> str:
    """This host and PID namespace: process ids are comparable only within one."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        namespace = "-"
    try:  # the initial namespace has the same id on every host: two machines named alike must differ
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "-"
    return f"{socket.gethostname()}|{namespace}|{boot}".replace("/", "_")


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), '' where /proc is absent, None if gone.

    Zombies (killed, not yet reaped by their parent) count as gone: they will never renew a lease.
    """
    stat = Path(f"/proc/{pid}/stat")
    if not Path("/proc/self/stat").exists():
        return ""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X", "x"):
        return None
    return fields[19]  # field 22 of stat; fields[0] is field 3


def new_owner_id() -> str:
    pid = os.getpid()
    return f"{_host_key()}/{pid}/{_start_time(pid) or ''}/{uuid.uuid4().hex[:8]}"


def owner_pid(owner: str) -> int | None:
    """The process id in an owner id (None for a malformed id)."""
    parts = owner.split("/")
    return int(parts[1]) if len(parts) == 4 and parts[1].isdigit() else None


def owner_is_dead(owner: str) -> bool:
    """True only when we can tell for sure that the owning process no longer runs."""
    parts = owner.split("/")
    if len(parts) != 4 or parts[0] != _host_key() or not parts[1].isdigit():
        return False  # another host or namespace (or an unknown format): wait for its lease to lapse
    pid, started = int(parts[1]), parts[2]
    now = _start_time(pid)
    if now is None:
        return True
    if now == "":  # no /proc: ask the kernel whether the pid exists at all
        if os.name == "nt":
            return False  # os.kill(pid, 0) would terminate the process there: wait for the lease
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    return bool(started) and now != started  # a different process has reused the pid
