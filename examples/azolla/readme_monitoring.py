"""Azolla README, "Monitoring and Observability" (imports changed)."""

from __future__ import annotations

# Install monitoring dependencies
# pip install azolla[monitoring]

import logging

from treadle.compat.azolla._internal.utils import setup_logging

# Configure structured logging
setup_logging("INFO")

# Optional extras (`azolla[monitoring]`) provide building blocks such as
# Prometheus exporters and OpenTelemetry SDKs. Instrumentation is left to your
# application so you can record the metrics and traces that matter.
