"""Batch analysis: many recordings (times several settings), on this machine or a Dask cluster.

- :mod:`.inputs` — which files a batch takes (folders, globs, paths).
- :mod:`.runner` — the batch on local worker processes (``--jobs N``), rows written as they arrive.
- :mod:`.dask_cluster` — the same batch on a ``dask.distributed`` cluster (``--cluster``; the
  ``dask`` extra).
- :mod:`.tables` — the per-rep and per-recording tables and the terminal summary;
  :mod:`.parquet_io` — the tables as DataFrames and Parquet files (the ``parquet`` extra).
- :mod:`.progress_bar` — the text progress bar.
"""

__all__ = ["dask_cluster", "inputs", "parquet_io", "progress_bar", "runner", "tables"]
