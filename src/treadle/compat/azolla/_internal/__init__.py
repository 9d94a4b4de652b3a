"""Azolla's `_internal` helpers that its README imports."""

from __future__ import annotations
