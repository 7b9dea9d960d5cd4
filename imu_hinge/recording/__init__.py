"""Recording input and output: the interchange CSV and the project's own session format."""

from __future__ import annotations

from .interchange import read_interchange_csv, recording_to_interchange_csv

__all__ = ["read_interchange_csv", "recording_to_interchange_csv"]
