"""The process-tree meter of the worker's heartbeat (workers/limits.py): one scan of the process table per
heartbeat serves every tool's tree (tests/soak measures it with 100 tools), with the figures a scan per
tree gave."""
import subprocess
import sys

import psutil

from tests.harness import wait_for
from workers.limits import TreeMeter, children_map, descendants


def test_given_a_server_with_a_child_and_a_grandchild_when_measured_from_one_shared_scan_then_the_whole_tree():
    # Given a server process whose child has a child of its own
    server = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
        "\"import subprocess, sys, time; subprocess.Popen(['sleep', '30']); time.sleep(30)\"]); time.sleep(30)")])
    try:
        wait_for(lambda: len(psutil.Process(server.pid).children(recursive=True)) == 2, timeout=10)

        # When it is measured from one scan shared by every meter, and by a scan of its own
        shared = TreeMeter(server.pid).sample(children_map())
        own = TreeMeter(server.pid).sample()

        # Then both see the same three processes and about the same memory
        assert shared["processes"] == own["processes"] == 3
        assert abs(shared["memory_mb"] - own["memory_mb"]) < 5
        assert sorted(descendants(server.pid, children_map())) == sorted(
            p.pid for p in psutil.Process(server.pid).children(recursive=True))
    finally:
        for process in psutil.Process(server.pid).children(recursive=True):
            process.kill()
        server.kill()
        server.wait()
