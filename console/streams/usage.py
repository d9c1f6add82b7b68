"""What `docker stats` shows, computed from one sample of the Engine's stats stream
(`GET /containers/{id}/stats`) the way the docker CLI computes it (docker/cli,
cli/command/container/stats_helpers.go, Linux daemons):

- CPU %: (total_usage - precpu total_usage) / (system_cpu_usage - precpu
  system_cpu_usage) x online CPUs (or the number of per-CPU figures) x 100, when both
  deltas are positive; 0 otherwise (the first sample of a stream has no precpu).
- Memory: usage minus the inactive page cache (cgroup v1 `total_inactive_file`, cgroup
  v2 `inactive_file`, when smaller than the usage), against `limit`; mem % of the limit.
- Net I/O: bytes received and sent, summed over the interfaces.
- Block I/O: `io_service_bytes_recursive` entries whose op starts with r/R (read) or
  w/W (write), summed.
- PIDs: `pids_stats.current`.

Pure: no Docker, no Django.
"""

from dataclasses import asdict, dataclass

from console import cli

NEVER = "0001-01-01T00:00:00Z"  # the `read` time of a sample of a container not running


@dataclass(frozen=True)
class Usage:
    id: str
    name: str
    running: bool
    read: str  # when the daemon took the sample (RFC 3339)
    cpu: float  # percent (100 = one CPU busy)
    memory: float  # bytes, without the inactive page cache
    limit: float  # bytes
    memory_percent: float
    net_rx: float
    net_tx: float
    block_read: int
    block_write: int
    pids: int

    def columns(self):
        """The row of `docker stats --format '{{json .}}'`, as the CLI writes it."""
        return {
            "BlockIO": f"{cli.size(self.block_read)} / {cli.size(self.block_write)}",
            "CPUPerc": f"{self.cpu:.2f}%",
            "Container": self.id[:12],
            "ID": self.id[:12],
            "MemPerc": f"{self.memory_percent:.2f}%",
            "MemUsage": f"{cli.memory(self.memory)} / {cli.memory(self.limit)}",
            "Name": self.name,
            "NetIO": f"{cli.size(self.net_rx)} / {cli.size(self.net_tx)}",
            "PIDs": str(self.pids),
        }

    def message(self):
        """The figures and the CLI's texts, for a page."""
        return {**asdict(self), "text": self.columns()}


def cpu_percent(sample):
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage") or 0
    pre_total = (pre.get("cpu_usage") or {}).get("total_usage") or 0
    cpu_delta = float(total) - float(pre_total)
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(pre.get("system_cpu_usage") or 0)
    online = float(cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()))
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_without_cache(memory):
    usage, stats = memory.get("usage") or 0, memory.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:  # cgroup v1
        return float(usage - stats["total_inactive_file"])
    if (stats.get("inactive_file") or 0) < usage:  # cgroup v2
        return float(usage - (stats.get("inactive_file") or 0))
    return float(usage)


def block_io(blkio):
    read = write = 0
    for entry in (blkio or {}).get("io_service_bytes_recursive") or ():
        op = entry.get("op") or ""
        if op[:1] in ("r", "R"):
            read += entry.get("value") or 0
        elif op[:1] in ("w", "W"):
            write += entry.get("value") or 0
    return read, write


def network_io(networks):
    rx = tx = 0.0
    for interface in (networks or {}).values():
        rx += float(interface.get("rx_bytes") or 0)
        tx += float(interface.get("tx_bytes") or 0)
    return rx, tx


def usage_of(sample):
    """A Usage from one decoded sample of the stats stream."""
    memory_stats = sample.get("memory_stats") or {}
    memory = memory_without_cache(memory_stats)
    limit = float(memory_stats.get("limit") or 0)
    read, write = block_io(sample.get("blkio_stats"))
    rx, tx = network_io(sample.get("networks"))
    stamp = sample.get("read") or NEVER
    return Usage(
        id=sample.get("id") or "",
        name=(sample.get("name") or "").lstrip("/"),
        running=stamp != NEVER,
        read=stamp,
        cpu=cpu_percent(sample),
        memory=memory,
        limit=limit,
        memory_percent=memory / limit * 100.0 if limit else 0.0,
        net_rx=rx,
        net_tx=tx,
        block_read=read,
        block_write=write,
        pids=int((sample.get("pids_stats") or {}).get("current") or 0),
    )
