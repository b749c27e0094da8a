"""Whether a process still runs, asked the same way by the launcher, the mining worker and
the bundle export (each had its own copy, and they disagreed on a denied signal).

Kept free of heavy imports (no torch, no polars): the launcher asks it before anything else
is loaded.
"""

from __future__ import annotations

import os
import sys

_STILL_ACTIVE = 259  # GetExitCodeProcess of a process that has not exited
_QUERY_LIMITED_INFORMATION = 0x1000
_ACCESS_DENIED = 5


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists.

    ``pid <= 0`` is never a live process (``kill(0, 0)`` would ask about our own process
    group). On POSIX a signal 0 probes it: no such process means dead, a denied signal means
    it exists under another user. On Windows ``os.kill(pid, 0)`` is not a probe (signal 0 is
    CTRL_C_EVENT, anything else terminates the process), so the process is opened and its
    exit code read instead.
    """
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False  # an id no process can have
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    """OpenProcess + GetExitCodeProcess: a process that exists and has not exited."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    handle = kernel32.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.get_last_error() == _ACCESS_DENIED  # exists, owned by someone else
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
