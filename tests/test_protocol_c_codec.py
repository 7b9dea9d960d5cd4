"""The C reference codec, compiled with the host gcc, against the same vectors.json as the Python codec.

The harness (firmware_protocol/c/test/test_vectors_main.c) reads ``<kind> <hex>`` lines and prints
``ok key=value ... reencode=<hex>`` or ``error <kind>``; :func:`imu_hinge.emulation.protocol_vectors.format_fields`
renders the vectors' expected fields the same way. A differential run then feeds thousands of
mutated messages to both codecs and requires identical answers.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imu_hinge.emulation import protocol_vectors as testing
from imu_hinge.protocol import spec
from imu_hinge.protocol.spec import ProtocolDecodeError

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware_protocol"
C_DIR = FW / "c"
DOC = testing.load_vectors(FW / "vectors.json")
VECTORS: list[dict[str, Any]] = DOC["vectors"]
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wconversion", "-Wsign-conversion",
          "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes", "-O1"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def _gcc() -> str:
    gcc = os.environ.get("CC") or shutil.which("gcc")
    if not gcc:
        pytest.fail("gcc not found: the C reference codec test needs the host C compiler "
                    "(install it, e.g. `apt-get install gcc`, or set CC)", pytrace=False)
    return gcc


def _compile(gcc: str, out: Path, extra: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [gcc, *STRICT, *extra, "-I", str(C_DIR), str(C_DIR / "test" / "test_vectors_main.c"),
           str(C_DIR / "imu_proto.c"), "-o", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness built with -Wall -Wextra -Werror -std=c99 (and more), with sanitizers if gcc has them."""
    gcc = _gcc()
    out = tmp_path_factory.mktemp("imu_proto_c") / "test_vectors"
    built = _compile(gcc, out, SANITIZE)
    if built.returncode != 0:  # sanitizer runtime not installed: the warnings-as-errors build still counts
        built = _compile(gcc, out, [])
    assert built.returncode == 0, f"C codec failed to compile:\n{built.stderr}"
    return out


def run(harness: Path, lines: list[str]) -> list[str]:
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    done = subprocess.run([str(harness)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          check=False, timeout=120, env=env)
    assert done.returncode == 0, f"harness failed ({done.returncode}):\n{done.stderr[-3000:]}"
    out = done.stdout.splitlines()
    assert len(out) == len(lines), done.stderr[-3000:]
    return out


def request(kind: str, data: bytes) -> str:
    return f"{kind} {data.hex() or '-'}"


def python_line(kind: str, data: bytes) -> str:
    """What the harness prints, computed with the Python codec."""
    try:
        obj = testing.decode(kind, data)
    except ProtocolDecodeError as exc:
        return f"error {exc.kind}"
    return f"{testing.format_fields(kind, testing.fields(obj))} reencode={testing.encode(obj).hex()}"


# --- vectors -------------------------------------------------------------------------------------

def test_c_codec_matches_every_vector(harness: Path) -> None:
    out = run(harness, [request(v["kind"], bytes.fromhex(v["hex"])) for v in VECTORS])
    problems = []
    for v, line in zip(VECTORS, out, strict=True):
        if "error" in v:
            want = f"error {v['error']}"
            got = line
        else:
            fields_part, _, reencoded = line.partition(" reencode=")
            want, got = testing.format_fields(v["kind"], v["expect"]), fields_part
            if v.get("reencode", True) and reencoded != v["hex"]:
                problems.append(f"{v['name']}: re-encoded {reencoded}, expected {v['hex']}")
        if got != want:
            problems.append(f"{v['name']}:\n  C:        {got}\n  expected: {want}")
    assert not problems, "\n".join(problems)


def test_c_and_python_agree_on_every_vector(harness: Path) -> None:
    reqs = [(v["kind"], bytes.fromhex(v["hex"])) for v in VECTORS]
    assert run(harness, [request(k, d) for k, d in reqs]) == [python_line(k, d) for k, d in reqs]


def test_c_mtu_sizing(harness: Path) -> None:
    valid, invalid = DOC["mtu"]["valid"], DOC["mtu"]["invalid"]
    out = run(harness, [f"mtu {m}" for m, _ in valid] + [f"mtu {m}" for m in invalid])
    assert out == [f"ok samples={n}" for _, n in valid] + ["error invalid_value"] * len(invalid)


def test_c_answers_to_undecodable_writes_match_the_answer_vectors(harness: Path) -> None:
    answers = DOC["answers"]
    out = run(harness, [f"answer {a['write'] or '-'}" for a in answers])
    assert out == [f"ok answer={a['answer']}" for a in answers]
    assert run(harness, ["answer 01680008e803"]) == ["ok decodes"]


def test_c_rate_choice_matches_the_rate_vectors(harness: Path) -> None:
    cases = DOC["rates"]["cases"]
    out = run(harness, [f"rate {hz}" for hz, _ in cases])
    assert out == [f"ok rate_millihz={m}" if m else "error invalid_value" for _, m in cases]


def test_c_constants_equal_protocol_json(harness: Path) -> None:
    (line,) = run(harness, ["constants"])
    assert line.startswith("ok ")
    c = dict(item.split("=", 1) for item in line[3:].split())
    p = json.loads((FW / "protocol.json").read_text(encoding="utf-8"))
    n, r, a, g = p["notification"], p["responses"], p["advertisement"], p["gatt"]
    want = {
        "protocol_version": p["protocol_version"], "header_size": n["header_size"],
        "sample_size": n["sample_size"], "max_samples": n["max_samples"],
        "max_notification_size": n["max_size"],
        "min_mtu": n["min_mtu"], "max_mtu": n["max_mtu"], "att_overhead": n["att_overhead"],
        "info_size": p["info"]["size"], "response_size": r["size"],
        "time_ping_response_size": r["time_ping_size"],
        "adv_payload_size": a["payload_size"], "adv_data_size": a["data_size"], "adv_flags": a["flags"],
        "adv_company_id": a["company_id"], "adv_status_streaming": a["payload"][3]["bits"]["streaming"],
        "battery_unknown": a["battery_unknown"], "response_bit": r["response_bit"],
        **{f"flag_{k}": v for k, v in n["flags"].items()},
        **{f"role_{k}": v for k, v in p["roles"].items()},
        **{f"opcode_{k}": v["opcode"] for k, v in p["commands"].items() if isinstance(v, dict)},
        **{f"size_{k}": v["size"] for k, v in p["commands"].items() if isinstance(v, dict)},
        **{f"status_{k}": v for k, v in r["status"].items()},
        "service_uuid": g["service_uuid"], "service_uuid_str": g["service_uuid"],
        **{f"{k}_char_uuid": v["uuid"] for k, v in g["characteristics"].items()},
        **{f"{k}_char_uuid_str": v["uuid"] for k, v in g["characteristics"].items()},
    }
    assert c == {k: str(v) for k, v in want.items()}


# --- differential fuzzing against the Python codec ------------------------------------------------

def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    op = rng.randrange(6)
    if op == 0 and b:  # flip bits
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == 1 and b:  # overwrite a byte with an edge value
        b[rng.randrange(len(b))] = rng.choice([0x00, 0x01, 0x10, 0x7F, 0x80, 0xFF, rng.randrange(256)])
    elif op == 2:  # truncate
        del b[rng.randrange(len(b) + 1):]
    elif op == 3:  # append
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 13)))
    elif op == 4:  # random bytes of a plausible length
        b = bytearray(rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 5, 7, 8, 10, 20, 29, 44, 236])))
    else:  # keep the version nibble / byte valid, randomise the rest
        b = bytearray(b[:1]) + bytearray(rng.randrange(256) for _ in range(max(0, len(b) - 1)))
    return bytes(b)


def test_c_and_python_agree_on_mutated_messages(harness: Path) -> None:
    rng = random.Random(20240601)
    seeds = [(v["kind"], bytes.fromhex(v["hex"])) for v in VECTORS]
    reqs = []
    for _ in range(4000):
        kind, data = rng.choice(seeds)
        for _ in range(rng.randint(1, 2)):
            data = _mutate(rng, data)
        reqs.append((kind, data))
    c_out = run(harness, [request(k, d) for k, d in reqs])
    mismatches = [f"{k} {d.hex()}\n  C:      {c}\n  Python: {p}"
                  for (k, d), c in zip(reqs, c_out, strict=True) if c != (p := python_line(k, d))]
    assert not mismatches, f"{len(mismatches)} disagreements, first ones:\n" + "\n".join(mismatches[:5])
    decoded = sum(line.startswith("ok ") for line in c_out)
    assert 200 < decoded < len(reqs) - 200, "mutations should hit both decodable and broken messages"
    assert {line.split()[1] for line in c_out if line.startswith("error ")} == set(spec.ERROR_KINDS)


# --- the header is usable from C++ (Arduino sketches) and the firmware uses this codec ------------

def test_header_compiles_as_cpp(tmp_path: Path) -> None:
    gcc = _gcc()
    src = tmp_path / "use.cpp"
    src.write_text('#include "imu_proto.h"\nint main() { imu_sample_t s = {{0,0,0},{0,0,0}}; '
                   "return imu_sample_clipped(&s) ? 1 : 0; }\n")
    done = subprocess.run([gcc, "-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                           "-I", str(C_DIR), str(src)], capture_output=True, text=True, check=False)
    if "cc1plus" in done.stderr:
        pytest.skip("gcc has no C++ front end (cc1plus) here")
    assert done.returncode == 0, done.stderr


def test_reference_firmware_uses_the_tested_codec() -> None:
    sketch_dir = FW / "firmware" / "xiao_nrf52840_sense"
    sketch = sketch_dir / "xiao_nrf52840_sense.ino"
    text = sketch.read_text(encoding="utf-8")
    assert '#include "imu_proto.h"' in text or "#include <imu_proto.h>" in text
    for fn in ("imu_write_header", "imu_write_sample", "imu_error_answer", "imu_encode_response",
               "imu_encode_info", "imu_encode_adv_data", "imu_samples_per_notification", "imu_pick_rate_millihz"):
        assert fn in text, f"the sketch does not call {fn}"
    copies = [p for p in FW.rglob("*.c") if p.name == "imu_proto.c" and p.parent != C_DIR]
    assert not copies, f"the firmware must build the tested codec, not a copy: {copies}"
    assert (sketch_dir / "README.md").is_file()


def test_reference_firmware_scale_factors_match_the_spec() -> None:
    """The sketch's per-range LSB tables equal protocol.json's sensitivities, as float32."""
    text = (FW / "firmware" / "xiao_nrf52840_sense" / "xiao_nrf52840_sense.ino").read_text(encoding="utf-8")
    scale = json.loads((FW / "protocol.json").read_text(encoding="utf-8"))["scale_factors"]

    def table(name: str) -> dict[int, float]:
        body = re.search(name + r"\[\] = \{(.*?)\};", text, re.S)
        assert body, name
        rows = re.findall(r"\{(\d+), 0x[0-9A-F]+, ([0-9.e+-]+)f\}", body.group(1))
        return {int(r): float(v) for r, v in rows}

    acc = {int(k): v * 1e-3 * scale["standard_gravity_m_s2"] for k, v in scale["acc_mg_per_lsb"].items()}
    gyr = {int(k): math.radians(v * 1e-3) for k, v in scale["gyr_mdps_per_lsb"].items()}
    for name, want in (("ACC_RANGES", acc), ("GYR_RANGES", gyr)):
        got = table(name)
        assert got.keys() == want.keys(), name
        assert all(np.float32(got[k]) == np.float32(want[k]) for k in want), (name, got, want)


def test_codec_cross_compiles_for_cortex_m4_without_warnings(tmp_path: Path) -> None:
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc not installed (.ci/run installs Debian's gcc-arm-none-eabi)")
    done = subprocess.run(["bash", str(C_DIR / "build_arm.sh"), str(tmp_path)], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0 and not done.stderr, done.stderr  # -Werror: any warning fails the build
    text = int(done.stdout.splitlines()[1].split()[0])
    assert 1000 < text < 3000  # measured: 2,097 bytes of code (-Os, Thumb-2)
