"""The worker supervisor (workers/supervisor.py) on real child processes: restarts, back-off, stop."""
import signal
import sys
import threading
import time

from tests.harness import wait_for
from workers.supervisor import WorkerSupervisor, restart_delay


def test_given_exits_in_a_row_then_the_first_restart_is_immediate_and_the_next_ones_back_off():
    assert [restart_delay(n) for n in (1, 2, 3, 4)] == [0.0, 0.5, 1.0, 2.0]
    assert restart_delay(50) == 30.0


def test_given_a_child_that_keeps_crashing_when_supervised_then_it_is_restarted_with_back_off(tmp_path):
    # Given a child that exits at once, each run leaving a line behind
    runs = tmp_path / "runs"
    argv = [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('run\\n'); raise SystemExit(3)"]
    supervisor = WorkerSupervisor(argv, processes=1)
    thread = threading.Thread(target=supervisor.run)

    # When it is supervised for 2.5 s
    thread.start()
    time.sleep(2.5)
    supervisor.stopping.set()
    thread.join(10)

    # Then it ran again and again, but backing off: at 0, ~0 and ~0.5 s, ~1.5 s (then ~3.5 s)
    assert 3 <= runs.read_text().count("run") <= 5


def test_given_running_children_when_stopped_then_each_gets_one_sigterm_and_the_exit_code_is_0(tmp_path):
    # Given two children that count the SIGTERMs they get, then exit cleanly on the first
    script = ("import signal, sys, time\n"
              "def stop(*_):\n"
              f"    open({str(tmp_path)!r} + '/terms', 'a').write('term\\n'); sys.exit(0)\n"
              "signal.signal(signal.SIGTERM, stop)\n"
              "while True: time.sleep(0.05)\n")
    supervisor = WorkerSupervisor([sys.executable, "-c", script], processes=2)
    result = []
    thread = threading.Thread(target=lambda: result.append(supervisor.run()))
    thread.start()
    wait_for(lambda: len(supervisor.pids()) == 2)
    time.sleep(0.3)  # their handlers are installed

    # When a stop is requested (twice, as a process manager and a Ctrl-C may)
    supervisor.request_stop(signal.SIGTERM)
    supervisor.request_stop(signal.SIGINT)
    thread.join(10)

    # Then every child got exactly one SIGTERM and the supervisor exits 0
    assert (tmp_path / "terms").read_text().count("term") == 2
    assert result == [0]
