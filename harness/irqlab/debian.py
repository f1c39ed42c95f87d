# SPDX-License-Identifier: GPL-2.0-or-later
"""Debian's Python packages, from whichever python3 runs the harness.

The set-up installs pyelftools and matplotlib as Debian packages
(python3-pyelftools, python3-matplotlib), for Debian's own python3.  A
python3 ahead of it in PATH (pyenv, a venv) does not look in Debian's
dist-packages, so the harness looks there too."""

import importlib
import sys

DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def debian_module(name: str, package: str):
    """Module @name, from Debian's @package.  ImportError naming the
    package to install when it is not there either."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if DIST_PACKAGES not in sys.path:
            sys.path.append(DIST_PACKAGES)
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"{e}: apt-get install {package} "
                          "(scripts/irqlab-build deps installs it)") from e
