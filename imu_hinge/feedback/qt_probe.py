"""Can Qt open a window here? Asked in a child process, before the live window is opened.

A Qt platform plugin that cannot load (on Linux typically xcb with a missing ``libxcb-*``
library) makes Qt ``abort()`` the whole process with no message of ours. :func:`qt_platform_problem`
starts a ``QApplication`` in a short-lived child interpreter instead: if that child fails, the
command says which system packages the window needs and goes on in the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys

QT_SYSTEM_PACKAGES = ("libegl1", "libgl1", "libfontconfig1", "libdbus-1-3", "libxkbcommon0", "libxkbcommon-x11-0",
                      "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
                      "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-xkb1")
"""Debian/Ubuntu packages the live window (Qt 6's xcb platform) needs besides the Python packages."""
INSTALL_HINT = "sudo apt-get install " + " ".join(QT_SYSTEM_PACKAGES)
PROBE = "from PySide6.QtWidgets import QApplication; app = QApplication([]); print(app.platformName())"
PROBE_TIMEOUT_S = 20.0


def qt_platform_problem(timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why Qt cannot start its platform here (one line, with the packages to install), or None if it can."""
    try:
        proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=timeout_s,
                              env=os.environ.copy(), check=False)
    except subprocess.TimeoutExpired:
        return f"Qt did not start within {timeout_s:g} s"
    except OSError as exc:
        return f"Qt could not be tried ({exc})"
    if proc.returncode == 0:
        return None
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    said = next((ln for ln in lines if "plugin" in ln.lower() or "error" in ln.lower()), lines[-1] if lines else "")
    how = f"exit status {proc.returncode}" if proc.returncode > 0 else f"signal {-proc.returncode}"
    return (f"Qt cannot start its platform here ({how}{': ' + said if said else ''}); on Debian/Ubuntu install the "
            f"window's system libraries with: {INSTALL_HINT}")


__all__ = ["INSTALL_HINT", "QT_SYSTEM_PACKAGES", "qt_platform_problem"]
