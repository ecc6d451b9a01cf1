"""firmware_protocol/imugait_protocol.h agrees with constants.json (and compiles, where gcc exists)."""

import re
import shutil
import subprocess

import pytest
from repo_paths import REPO

from imugait.protocol import constants as C

HEADER = REPO / "firmware_protocol" / "imugait_protocol.h"


def _defines():
    out = {}
    for m in re.finditer(r"^#define (IMUGAIT_\w+) (.+)$", HEADER.read_text(), re.M):
        out[m.group(1)] = re.sub(r"/\*.*?\*/", "", m.group(2)).strip()
    return out


def test_header_defines_match_constants():
    d = _defines()
    assert int(d["IMUGAIT_PROTOCOL_VERSION"]) == C.PROTOCOL_VERSION
    for k, u in C.UUIDS.items():
        assert d[f"IMUGAIT_UUID_{k.upper()}"] == f'"{u}"'
    for name, val in C.OPCODES.items():
        assert int(d[f"IMUGAIT_OP_{name.upper()}"]) == val
    for name, val in C.STATUS_CODES.items():
        assert int(d[f"IMUGAIT_ST_{name.upper()}"]) == val
    for name, val in C.DATA_FLAGS.items():
        assert int(d[f"IMUGAIT_DATA_FLAG_{name.upper()}"]) == val
    for name, val in C.STATUS_FLAGS.items():
        assert int(d[f"IMUGAIT_STATUS_FLAG_{name.upper()}"]) == val
    for name, val in C.SIDE_CODES.items():
        assert int(d[f"IMUGAIT_SIDE_{name.upper()}"]) == val
    assert int(d["IMUGAIT_DATA_HEADER_SIZE"]) == C.DATA_HEADER_SIZE
    assert int(d["IMUGAIT_INFO_SIZE"]) == C.INFO_SIZE and int(d["IMUGAIT_STATUS_SIZE"]) == C.STATUS_SIZE
    assert int(d["IMUGAIT_MIN_MTU"]) == C.MIN_MTU
    assert int(d["IMUGAIT_DATA_HEADER_EXT_SIZE"]) == C.DATA_HEADER_EXT_SIZE
    assert int(d["IMUGAIT_TX_DELAY_UNKNOWN"]) == C.TX_DELAY_UNKNOWN
    assert int(d["IMUGAIT_CONTROL_RESPONSE_MARKER"]) == C.CONTROL_RESPONSE_MARKER
    base = bytes(int(x, 16) for x in d["IMUGAIT_UUID_BASE_LE"].split(","))
    assert base[::-1].hex()[:4] + "0001" + base[::-1].hex()[8:] == C.SERVICE_UUID.replace("-", "")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed: C header compile check skipped")
def test_header_compiles_and_packs_like_the_golden_vector(tmp_path):
    src = tmp_path / "t.c"
    src.write_text(
        '#include <stdio.h>\n#include <string.h>\n#include "imugait_protocol.h"\n'
        "int main(void){\n"
        " unsigned char buf[64]; imugait_data_header_t h = {1, sizeof(imugait_data_header_t), IMUGAIT_DATA_FLAG_FIRST, 1, 0, 0x1234, 0, 0};\n"
        " imugait_sample_t s = {{100, -200, 16384}, {-1, 0, 32767}};\n"
        " memcpy(buf, &h, sizeof h); memcpy(buf + sizeof h, &s, sizeof s);\n"
        " for (unsigned i = 0; i < sizeof h + sizeof s; i++) printf(\"%02x\", buf[i]);\n"
        ' printf(" %u %u %u", (unsigned)sizeof(imugait_info_t), (unsigned)sizeof(imugait_status_t), (unsigned)sizeof(imugait_sample_t));\n'
        ' printf(" %u %u %u %u %u %u\\n", imugait_samples_per_packet(185, 1600000, 20), imugait_samples_per_packet(247, 800000, 20),'
        " imugait_samples_per_packet(23, 52000, 20), imugait_samples_per_packet(247, 52083, 20),"
        " imugait_samples_per_packet(517, 1600000, 22), (unsigned)sizeof(imugait_data_header_ext_t));\n"
        " return 0; }\n"
    )
    exe = tmp_path / "t"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-I", str(HEADER.parent), str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    import json

    golden = json.loads((REPO / "firmware_protocol" / "golden_vectors.json").read_text())
    hexes = {v["name"]: v["hex"] for v in golden["vectors"]}
    assert out[0] == hexes["data_1_sample_by_hand"]
    assert [int(x) for x in out[1:4]] == [C.INFO_SIZE, C.STATUS_SIZE, C.SAMPLE_SIZE]
    assert [int(x) for x in out[4:]] == [
        C.samples_per_packet(185, 1600), C.samples_per_packet(247, 800), C.samples_per_packet(23, 52), C.samples_per_packet(247, 52.083),
        C.samples_per_packet(517, 1600, C.DATA_HEADER_EXT_SIZE), C.DATA_HEADER_EXT_SIZE]
