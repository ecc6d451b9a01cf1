"""constants.json (for firmware authors) and imugait.protocol.constants must agree."""

import json
import struct

from repo_paths import REPO

from imugait.protocol import constants as C


def test_constants_json_equals_python_mirror():
    doc = json.loads((REPO / "firmware_protocol" / "constants.json").read_text())
    assert doc == C.as_json_dict()


def test_layouts_are_contiguous_and_sizes_match():
    sizes = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i16": 2, "f32": 4, "char16": 16, "char32": 32}
    for fields, total in (
        (C.DATA_HEADER_FIELDS, C.DATA_HEADER_SIZE),
        (C.SAMPLE_FIELDS, C.SAMPLE_SIZE),
        (C.INFO_FIELDS, C.INFO_SIZE),
        (C.STATUS_FIELDS, C.STATUS_SIZE),
    ):
        off = 0
        for name, o, t in fields:
            assert o == off, (name, o, off)
            off += sizes[t]
        assert off == total


def test_uuids_share_base_and_are_distinct():
    tails = {u[8:] for u in C.UUIDS.values()}
    assert len(tails) == 1 and len(set(C.UUIDS.values())) == 5
    assert all(len(u) == 36 for u in C.UUIDS.values())


def test_batch_size_table():
    # MTU 23 cannot carry header + one sample; 185/247 follow floor((mtu-3-20)/12) and <= 50 notif/s
    assert [C.samples_per_packet(23, r) for r in (52, 1600)] == [0, 0]
    assert C.samples_per_packet(35, 1600) == 1 and C.samples_per_packet(34, 52) == 0
    assert [C.samples_per_packet(185, r) for r in (52, 104, 200, 400, 800, 1600)] == [2, 3, 4, 8, 13, 13]
    assert [C.samples_per_packet(247, r) for r in (52, 104, 200, 400, 800, 1600)] == [2, 3, 4, 8, 16, 18]
    for mtu in (35, 100, 185, 247, 517):
        for r in C.SUPPORTED_RATES_HZ:
            n = C.samples_per_packet(mtu, r)
            assert C.DATA_HEADER_SIZE + n * C.SAMPLE_SIZE <= mtu - 3
            # either <= 50 notifications/s or the MTU is full
            assert r / n <= 50 + 1e-9 or C.DATA_HEADER_SIZE + (n + 1) * C.SAMPLE_SIZE > mtu - 3
    assert struct.calcsize("<BBBBHHIQ") == C.DATA_HEADER_SIZE
