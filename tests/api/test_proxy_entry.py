"""`python -m api.mcp_proxy` as a command: --help answers at once."""
import subprocess
import sys

from tests.harness import ROOT


def test_given_help_when_running_the_proxy_command_then_usage_and_exit_0():
    result = subprocess.run([sys.executable, "-m", "api.mcp_proxy", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=20)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m api.mcp_proxy") and "--stdio" in result.stdout
