"""Which user a tool's process runs as: `mcp.tools.run_as_user` (a user name or uid) when the worker runs
as root, else the worker's own user (nothing to drop, and a non-root worker could not change user).

The change itself happens in child_guard.py, after it wrote its pid file and before it execs the tool:
supplementary groups dropped, then gid, then uid (in that order: setuid first would forbid the others).
The tool's HOME is that user's home (npx, uvx and pip keep their caches there) unless its env sets one.
"""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path


class UnknownRunAsUser(ValueError):
    pass


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int
    name: str
    home: str

    def guard_args(self) -> list[str]:
        """child_guard.py's option that makes it change to this user."""
        return ["--as", f"{self.uid}:{self.gid}"]

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The tool's env with this user's HOME, USER and LOGNAME unless the tool sets its own."""
        return {"HOME": self.home, "USER": self.name, "LOGNAME": self.name, **env}

    def own(self, directory: Path) -> None:
        """Give the tool's private working directory to this user (it writes there, and nowhere in data/)."""
        os.chown(directory, self.uid, self.gid)


def run_as(setting: str | int | None, euid: int | None = None) -> RunAs | None:
    """The user tools run as, or None for the worker's own (setting empty, worker not root, or root asked)."""
    euid = os.geteuid() if euid is None else euid
    setting = str(setting or "").strip()
    if not setting or euid != 0:
        return None
    try:
        entry = pwd.getpwuid(int(setting)) if setting.isdigit() else pwd.getpwnam(setting)
    except KeyError:
        raise UnknownRunAsUser(f"mcp.tools.run_as_user {setting!r} is not a user of this host") from None
    if entry.pw_uid == 0:
        return None
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=entry.pw_name, home=entry.pw_dir)
