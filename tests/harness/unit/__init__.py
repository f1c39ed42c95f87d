# SPDX-License-Identifier: GPL-2.0-or-later
"""Unit tests of the harness's pure functions (python3 -m unittest)."""
