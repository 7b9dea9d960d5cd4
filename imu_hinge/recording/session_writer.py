"""Crash-safe, append-only writer of session recordings (layout: :mod:`imu_hinge.recording.format`).

::

    meta = build_metadata({"sacrum": sensor_metadata(info_s), "thoracic": sensor_metadata(info_t)})
    with SessionWriter(flush_interval_s=0.5).open("set1.ihr.csv", meta) as w:
        w.write_packet("sacrum", packet, first_seq=i0, time_s=t, device_time_us=d0, host_time_s=arrival_s)
        w.write_event("alert", 9.84, fault="lumbar_flexion", value_deg=20.6)
        w.flush_if_due()        # on every tick of the live loop (>= 2 Hz), also when no data comes

Crash safety: rows are formatted into whole lines and kept in memory until the buffer spans
``flush_interval_s`` of data time, or its oldest line has waited ``flush_interval_s`` of wall
time; then they go out in one ``os.write`` loop on an unbuffered descriptor and are
``os.fsync``ed. A ``kill -9`` therefore loses at most the buffer (< ``flush_interval_s`` plus
one call's samples) and leaves a file ending at a whole line — unless it lands inside a write
spanning several pages, which Linux may then cut short: readers drop such a torn last line.

Per sensor, ``seq`` and ``time_s`` must increase; samples that do not are dropped (with a
``dropped`` event) so the file always meets the interchange contract. A ``seq`` jump is written
as a ``gap`` event before the first sample after it. Disk full, quota, file-size limit or any
other ``OSError`` while writing: the writer truncates the file to its last whole line, closes
it, and raises :class:`~imu_hinge.errors.RecordingWriteError` (one line, ``samples_kept``);
every later call raises the same error.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from imu_hinge.errors import RecordingWriteError
from imu_hinge.protocol.codec import DataPacket
from imu_hinge.recording.format import (
    END_PREFIX,
    EVENT_PREFIX,
    HEADER_LINE,
    MAGIC_LINE,
    META_PREFIX,
    SampleBlock,
    check_event_kind,
    json_line,
    metadata_problems,
    utc_now_iso,
)

_SPACE_ERRORS = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EFBIG: "file size limit reached"}


class SessionWriter:
    """Writes one session file. Parameters: ``flush_interval_s`` (the most data or wall time a
    line waits in memory), ``fsync`` (False only for tests and benchmarks), ``overwrite`` (else
    an existing file is an error), ``gap_events`` (write a ``gap`` event at each ``seq`` jump).

    State: ``path``, ``metadata``, ``samples_written`` {sensor: accepted samples},
    ``samples_on_disk`` (written and synced), ``events_written``, ``dropped_samples``, ``gaps``,
    ``error`` (the :class:`RecordingWriteError` that stopped it, else None), ``closed``.
    """

    def __init__(self, *, flush_interval_s: float = 0.5, fsync: bool = True, overwrite: bool = False,
                 gap_events: bool = True) -> None:
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be > 0, got {flush_interval_s}")
        self.flush_interval_s = float(flush_interval_s)
        self.fsync = fsync
        self.overwrite = overwrite
        self.gap_events = gap_events
        self.path: Path | None = None
        self.metadata: dict[str, Any] = {}
        self.samples_written: dict[str, int] = {}
        self.samples_on_disk = 0
        self.events_written = 0
        self.dropped_samples = 0
        self.gaps = 0
        self.error: RecordingWriteError | None = None
        self._fd: int | None = None
        self._offset = 0
        self._buf: list[str] = []
        self._buf_samples = 0
        self._buf_time_s: tuple[float, float] | None = None
        self._buf_since_mono = 0.0
        self._last: dict[str, tuple[int, float]] = {}

    # --- open / close -------------------------------------------------------------------------
    def open(self, path: str | Path, metadata: dict[str, Any]) -> SessionWriter:
        """Create ``path``, write header, magic and metadata, fsync; returns ``self``."""
        if self.path is not None:
            raise RuntimeError("this SessionWriter was already opened; make a new one per file")
        problems = metadata_problems(metadata)
        if problems:
            raise ValueError("invalid recording metadata: " + "; ".join(problems))
        head = f"{HEADER_LINE}\n{MAGIC_LINE}\n{META_PREFIX}{json_line(metadata)}\n".encode()
        path = Path(path)
        mode = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if self.overwrite else os.O_EXCL) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, mode, 0o644)
        except FileExistsError:
            raise RecordingWriteError("already exists; choose another name (recordings are never overwritten)",
                                      path=str(path)) from None
        except OSError as exc:
            raise RecordingWriteError(f"cannot create the recording ({exc.strerror or exc})", path=str(path)) from None
        self.path, self._fd = path, fd
        self.metadata = json.loads(json_line(metadata))
        self.samples_written = {role: 0 for role in self.metadata["sensors"]}
        try:
            self._write(head)
            self._sync()
        except RecordingWriteError:
            path.unlink(missing_ok=True)
            raise
        _fsync_dir(path)
        return self

    def close(self, status: str = "ok") -> None:
        """Flush, append the ``# end:`` line, fsync and close. A no-op once closed or stopped."""
        if self._fd is None:
            return
        end = {"status": status, "closed_utc": utc_now_iso(), "samples": self.samples_written,
               "events": self.events_written, "dropped": self.dropped_samples, "gaps": self.gaps}
        self._buf.append(f"{END_PREFIX}{json_line(end)}\n")
        try:
            self.flush()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.close("ok" if exc_type is None else "aborted")
        except RecordingWriteError:
            if exc_type is None:
                raise

    @property
    def closed(self) -> bool:
        return self._fd is None

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("the recording is closed")
        return self._fd

    # --- samples and events -------------------------------------------------------------------
    def write_samples(self, sensor: str, time_s: ArrayLike, *, seq: ArrayLike, raw: ArrayLike | None = None,
                      acc_m_s2: ArrayLike | None = None, gyr_rad_s: ArrayLike | None = None,
                      device_time_us: ArrayLike | None = None, host_time_s: ArrayLike | None = None,
                      flags: ArrayLike = 0) -> int:
        """Append n samples of one sensor; returns how many were kept.

        ``time_s`` (n,) fitted host time, s; ``seq`` (n,) unwrapped indices or the first one (int);
        ``raw`` (n, 6) int16 LSB — then SI = ``raw * scale`` from the metadata unless ``acc_m_s2`` (n, 3)
        and ``gyr_rad_s`` (n, 3) are given (needed without ``raw``); ``device_time_us`` (n,) int;
        ``host_time_s`` scalar (arrival of the notification) or (n,); ``flags`` scalar or (n,): the
        notification's flag bits (the writer adds ``SAMPLE_CLIPPED``).
        """
        self._check_open()
        meta = self.metadata["sensors"].get(sensor)
        if meta is None:
            raise ValueError(f"sensor {sensor!r} is not in the recording's metadata")
        b = SampleBlock.build(meta, time_s, seq, raw, acc_m_s2, gyr_rad_s, device_time_us, host_time_s, flags)
        if not len(b):
            return 0
        keep = self._newer(sensor, b.seq, b.time_s)
        lines: list[str] = []
        if keep is not None:
            k = int(np.flatnonzero(~keep)[0])
            when = float(b.time_s[k]) if np.isfinite(b.time_s[k]) else self._last.get(sensor, (0, 0.0))[1]
            lines.append(self._event_line("dropped", when, sensor=sensor, first_seq=int(b.seq[k]),
                                          count=int((~keep).sum()), reason="seq or time_s not after the last sample"))
            self.dropped_samples += int((~keep).sum())
            b = b.select(keep)
        n = len(b)
        if n:
            prev = self._last[sensor][0] if sensor in self._last else int(b.seq[0]) - 1
            jumps = np.diff(b.seq, prepend=prev)
            rows = b.lines(sensor)
            for i in np.flatnonzero(jumps > 1).tolist()[::-1]:
                self.gaps += 1
                if self.gap_events:
                    rows.insert(i, self._event_line("gap", float(b.time_s[i]), sensor=sensor,
                                                    first_missing_seq=int(b.seq[i] - jumps[i] + 1),
                                                    missing=int(jumps[i] - 1)))
            lines += rows
            self._last[sensor] = (int(b.seq[-1]), float(b.time_s[-1]))
            self.samples_written[sensor] = self.samples_written.get(sensor, 0) + n
        self._append(lines, n, (float(b.time_s[0]), float(b.time_s[-1])) if n else None)
        self.flush_if_due()
        return n

    def write_packet(self, sensor: str, packet: DataPacket, *, first_seq: int, time_s: ArrayLike,
                     device_time_us: ArrayLike | None = None, host_time_s: float | None = None) -> int:
        """Append a decoded notification: ``first_seq`` unwrapped index of its sample 0, ``time_s`` (n,)
        fitted times, ``device_time_us`` (n,) or the unwrapped clock at sample 0 (the others then
        follow at the nominal ``rate_hz``), ``host_time_s`` its arrival time. Returns samples kept."""
        dev: ArrayLike | None = device_time_us
        if dev is not None and np.ndim(dev) == 0:
            period_us = 1e6 / float(self.metadata["sensors"][sensor]["rate_hz"])
            dev = int(np.asarray(dev)) + np.round(np.arange(packet.count) * period_us).astype(np.int64)
        return self.write_samples(sensor, time_s, seq=first_seq, raw=packet.raw, device_time_us=dev,
                                  host_time_s=host_time_s, flags=packet.flags)

    def write_event(self, kind: str, time_s: float, **fields: Any) -> None:
        """Append ``# event: {"time_s": .., "kind": .., **fields}`` (gap, reconnect, alert, haptic, note, ...)."""
        self._check_open()
        self._append([self._event_line(kind, time_s, **fields)], 0, None)
        self.flush_if_due()

    def _event_line(self, kind: str, time_s: float, **fields: Any) -> str:
        line = f"{EVENT_PREFIX}{json_line({'time_s': float(time_s), 'kind': check_event_kind(kind), **fields})}\n"
        self.events_written += 1
        return line

    # --- buffering and I/O ----------------------------------------------------------------------
    def flush_if_due(self) -> bool:
        """Flush if the buffer spans ``flush_interval_s`` of data or has waited that long; True if it did."""
        if self._fd is None or not self._buf:
            return False
        span = 0.0 if self._buf_time_s is None else self._buf_time_s[1] - self._buf_time_s[0]
        if span >= self.flush_interval_s or time.monotonic() - self._buf_since_mono >= self.flush_interval_s:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write everything buffered (whole lines) and fsync it."""
        self._check_open()
        if self._buf:
            data = "".join(self._buf).encode()
            self._write(data)
            self.samples_on_disk += self._buf_samples
            self._buf, self._buf_samples, self._buf_time_s = [], 0, None
        self._sync()

    def _append(self, lines: list[str], n_samples: int, span: tuple[float, float] | None) -> None:
        if not lines:
            return
        if not self._buf:
            self._buf_since_mono = time.monotonic()
        self._buf += lines
        self._buf_samples += n_samples
        if span is not None:
            old = self._buf_time_s
            self._buf_time_s = span if old is None else (min(old[0], span[0]), max(old[1], span[1]))

    def _newer(self, sensor: str, seq: np.ndarray, t: np.ndarray) -> np.ndarray | None:
        """None if every sample comes after the last one written, else the (n,) mask of those that do."""
        last_seq, last_t = self._last.get(sensor, (np.iinfo(np.int64).min, -np.inf))
        if (seq[0] > last_seq and t[0] > last_t and np.isfinite(t).all() and bool(np.all(np.diff(seq) > 0))
                and bool(np.all(np.diff(t) > 0))):
            return None
        keep = np.zeros(seq.size, dtype=bool)
        for i, (s, ti) in enumerate(zip(seq.tolist(), t.tolist(), strict=True)):
            if s > last_seq and ti > last_t and np.isfinite(ti):
                keep[i], last_seq, last_t = True, s, ti
        return keep

    def _check_open(self) -> None:
        if self.error is not None:
            raise self.error
        if self._fd is None:
            raise ValueError("the recording is not open" if self.path is None else "the recording is closed")

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        done = 0
        while done < len(data):
            try:
                done += os.write(self._fd, data[done:])
            except OSError as exc:
                self._fail(exc, data, done)
        self._offset += len(data)

    def _sync(self) -> None:
        if self.fsync and self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self._fail(exc, b"", 0)

    def _fail(self, exc: OSError, data: bytes, done: int) -> None:
        """Cut the file back to its last whole line, close it, and raise the one-line error."""
        fd, self._fd = self._fd, None
        whole = data.rfind(b"\n", 0, done) + 1
        kept = self.samples_on_disk + sum(1 for ln in data[:whole].split(b"\n") if ln and not ln.startswith(b"#"))
        reason = _SPACE_ERRORS.get(exc.errno or 0, f"write error ({exc.strerror or exc})")
        if fd is not None:
            offset = self._offset + whole
            for action in (lambda: _truncate(fd, offset), lambda: _try_end_line(fd, offset, reason, kept),
                           lambda: os.fsync(fd), lambda: os.close(fd)):
                try:
                    action()
                except OSError:
                    pass
        self.samples_on_disk = kept
        self._buf, self._buf_samples, self._buf_time_s = [], 0, None
        hint = "; free some space and record again" if exc.errno in _SPACE_ERRORS else ""
        self.error = RecordingWriteError(f"{reason} while recording: stopped and closed the file with the {kept} "
                                         f"sample(s) written so far{hint}", path=str(self.path), samples_kept=kept)
        raise self.error from None


def _truncate(fd: int, offset: int) -> None:
    os.ftruncate(fd, offset)
    os.lseek(fd, offset, os.SEEK_SET)


def _try_end_line(fd: int, offset: int, reason: str, kept: int) -> None:
    line = f"{END_PREFIX}{json_line({'status': 'write_error', 'reason': reason, 'samples_kept': kept})}\n".encode()
    try:
        if os.write(fd, line) == len(line):
            return
    except OSError:
        pass
    _truncate(fd, offset)


def _fsync_dir(path: Path) -> None:
    try:
        dfd = os.open(path.resolve().parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
