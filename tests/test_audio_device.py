"""Audio cues through the real sound stack: sounddevice -> PortAudio -> ALSA, whose default device is
the ALSA ``file`` plugin (configured by a ``~/.asoundrc`` in a temporary HOME), so the tone that was
played can be measured in the WAV file ALSA wrote. No sound card needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from imu_hinge.feedback.audio import CUE_TONES_HZ, TONE_DURATION_S

from .helpers import REPO

try:  # the audio extra, and libportaudio2, which scripts/setup.sh installs (OSError: the library is missing)
    import sounddevice  # noqa: F401
except (ImportError, OSError) as exc:
    pytest.skip(f"no sounddevice/PortAudio ({exc}): run scripts/setup.sh", allow_module_level=True)

FILE_DEVICE = """\
pcm.!default {{ type plug slave {{ pcm "tofile" format S16_LE rate 48000 channels 2 }} }}
pcm.tofile {{ type file slave.pcm "null" file "{wav}" format "wav" }}
"""
NO_DEVICE = "pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n"


def _home(tmp_path: Path, asoundrc: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(asoundrc)
    env = {k: v for k, v in os.environ.items() if k not in ("ALSA_CONFIG_PATH", "AUDIODEV")}
    return {**env, "HOME": str(home)}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=REPO)


PLAY_ONE_CUE = """
import json, sounddevice as sd
from imu_hinge.feedback.audio import AudioSink
from imu_hinge.feedback.policy import Cue
sink = AudioSink("auto")
sink.on_cue(Cue(1.0, "concurrent", 1, ("lumbar_flexion",)))
sd.wait()  # the tone is played without blocking: let it finish before the process ends
print(json.dumps({"reason": sink.reason, "log": sink.log}))
"""


def test_a_cue_plays_its_tone_through_alsa(tmp_path: Path) -> None:
    wav = tmp_path / "out.wav"
    proc = _python(PLAY_ONE_CUE, _home(tmp_path, FILE_DEVICE.format(wav=wav)))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # no warning, no ALSA noise
    doc = json.loads(proc.stdout)
    assert doc["reason"] == "sounddevice" and [e["status"] for e in doc["log"]] == ["played"]
    rate_hz, data = wavfile.read(wav)
    assert rate_hz == 48000 and data.dtype == np.int16  # resampled by ALSA's plug from the tone's 44.1 kHz
    x = data[:, 0].astype(float) / 32768
    loud = np.flatnonzero(np.abs(x) > 0.01)
    duration_s = (loud[-1] - loud[0] + 1) / rate_hz
    assert duration_s == pytest.approx(TONE_DURATION_S, abs=0.002)  # measured 0.1195 s
    seg = x[loud[0]:loud[-1] + 1]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n=rate_hz))  # 1 Hz bins
    assert int(np.argmax(spectrum)) == pytest.approx(CUE_TONES_HZ["concurrent"], abs=2)  # 880 Hz
    assert np.max(np.abs(seg)) == pytest.approx(0.3, abs=0.02)  # TONE_VOLUME


def _train(tmp_path: Path, csv: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict]:
    j = tmp_path / "train.json"
    proc = subprocess.run([sys.executable, "-m", "imu_hinge", "train", "--emulate", str(csv), "--emulate-speed", "max",
                           "--no-gui", "--duration", "25", "--json", str(j), "--out", str(tmp_path / "t.ihr.csv")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(j.read_text())


def test_train_emulate_plays_every_cue_and_says_nothing_about_audio(rounding_csv: Path, tmp_path: Path) -> None:
    pytest.importorskip("bumble")
    wav = tmp_path / "out.wav"
    proc, doc = _train(tmp_path, rounding_csv, _home(tmp_path, FILE_DEVICE.format(wav=wav)))
    assert "audio" not in proc.stderr and "ALSA" not in proc.stderr
    cues = doc["feedback"]["audio"]
    assert len(cues) >= 3 and {e["status"] for e in cues} == {"played"}  # measured: 6 cues
    assert wav.stat().st_size > 44 + 4 * 48000 * TONE_DURATION_S  # at least one tone's worth of audio


def test_no_sound_device_is_one_notice_and_the_set_goes_on(rounding_csv: Path, tmp_path: Path) -> None:
    pytest.importorskip("bumble")
    proc, doc = _train(tmp_path, rounding_csv, _home(tmp_path, NO_DEVICE))
    audio_lines = [ln for ln in proc.stderr.splitlines() if "audio" in ln]
    assert len(audio_lines) == 1 and "note: audio cues are silent: no output sound device" in audio_lines[0]
    assert "ALSA lib" not in proc.stderr
    cues = doc["feedback"]["audio"]
    assert cues and all(e["status"].startswith("silent: no output sound device") for e in cues)
    assert doc["reps"]  # the set ran to the end
