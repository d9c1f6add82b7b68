"""Container stats (`docker stats`): the CLI's figures from the Engine's samples
(console/streams/usage.py), the shared per-container streams (console/streams/stats.py)
and the stats websockets, against the real test daemons and the docker CLI."""

import copy
import json
from pathlib import Path

import pytest

from console.streams.usage import usage_of

DATA = Path(__file__).parent / "data"


def sample(name):
    return json.loads((DATA / f"stats_cgroup_{name}.json").read_text())["sample"]


# --- the CLI's figures, from recorded samples ----------------------------------------------


def test_cgroup_v1_sample_gives_what_docker_stats_printed_for_it():
    usage = usage_of(sample("v1"))
    assert usage.columns() == {  # what `docker stats --no-stream` printed for this container
        "BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": "28d183aaf9c5", "ID": "28d183aaf9c5",
        "MemPerc": "0.43%", "MemUsage": "1.094MiB / 256MiB", "Name": "recorded", "NetIO": "0B / 0B", "PIDs": "1",
    }  # fmt: skip
    # 20 MiB written to a file is inactive page cache (total_inactive_file): not counted
    assert usage.memory == 22118400 - 20971520 and usage.limit == 256 * 2**20 and usage.running


def test_cgroup_v2_sample():
    usage = usage_of(sample("v2"))
    assert usage.cpu == pytest.approx(50.0)  # 0.5 s of 4 s of CPU time (4 CPUs over 1 s) x 4 CPUs
    assert usage.memory == 52428800 - 10485760  # minus inactive_file
    assert (usage.net_rx, usage.net_tx) == (4000, 1000)  # summed over eth0 and eth1
    assert (usage.block_read, usage.block_write) == (4097000, 1052672)  # summed over devices
    assert usage.columns() == {
        "BlockIO": "4.1MB / 1.05MB", "CPUPerc": "50.00%", "Container": "5d8f0c3b1a2e", "ID": "5d8f0c3b1a2e",
        "MemPerc": "0.51%", "MemUsage": "40MiB / 7.639GiB", "Name": "web", "NetIO": "4kB / 1kB", "PIDs": "3",
    }  # fmt: skip


def test_cgroup_v1_block_io_counts_read_and_write_only_and_cpus_from_percpu():
    raw = copy.deepcopy(sample("v1"))
    raw["blkio_stats"]["io_service_bytes_recursive"] = [
        {"major": 8, "minor": 0, "op": op, "value": value}
        for op, value in (("Read", 3000), ("Write", 500), ("Sync", 3500), ("Async", 0), ("Total", 3500))
    ] + [{"major": 8, "minor": 16, "op": "Read", "value": 1000}]
    raw["cpu_stats"]["cpu_usage"]["total_usage"] += 10**9  # one CPU-second...
    raw["cpu_stats"]["system_cpu_usage"] = raw["precpu_stats"]["system_cpu_usage"] + 4 * 10**9  # ...of 4
    del raw["cpu_stats"]["online_cpus"]  # older daemons: the per-CPU figures say how many (2)
    usage = usage_of(raw)
    assert (usage.block_read, usage.block_write) == (4000, 500)
    assert usage.cpu == pytest.approx(50.0)


def test_the_first_sample_and_a_stopped_container():
    raw = copy.deepcopy(sample("v1"))
    raw["precpu_stats"] = {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}  # a stream's first sample
    assert usage_of(raw).cpu == pytest.approx(raw["cpu_stats"]["cpu_usage"]["total_usage"] / 738730000000 * 2 * 100)
    stopped = {"read": "0001-01-01T00:00:00Z", "preread": "0001-01-01T00:00:00Z", "pids_stats": {},
               "blkio_stats": {"io_service_bytes_recursive": None}, "cpu_stats": {"cpu_usage": {"total_usage": 0}},
               "precpu_stats": {"cpu_usage": {"total_usage": 0}}, "memory_stats": {}, "name": "/x", "id": "ab" * 32}  # fmt: skip
    usage = usage_of(stopped)
    assert not usage.running
    assert usage.columns() == {
        "BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": "abababababab", "ID": "abababababab",
        "MemPerc": "0.00%", "MemUsage": "0B / 0B", "Name": "x", "NetIO": "0B / 0B", "PIDs": "0",
    }  # fmt: skip
