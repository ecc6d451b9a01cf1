"""Golden vectors (firmware_protocol/golden_vectors.json): bytes -> values, and back."""

import json
import math

import numpy as np
import pytest
from repo_paths import REPO

from imugait.protocol import constants as C
from imugait.protocol import errors as E
from imugait.protocol import imu

DOC = json.loads((REPO / "firmware_protocol" / "golden_vectors.json").read_text())
VECTORS = DOC["vectors"]
DECODERS = {
    "data": imu.decode_data,
    "info": imu.decode_info,
    "status": imu.decode_status,
    "control_request": imu.decode_control_request,
    "control_response": imu.decode_control_response,
}


def test_vector_file_covers_every_message_and_error():
    kinds = {v["message"] for v in VECTORS}
    assert kinds == set(DECODERS)
    errs = {v["error"] for v in VECTORS if "error" in v}
    assert {"TooShort", "BadVersion", "CountMismatch", "BadHeader", "BadValue", "UnknownType"} <= errs
    assert DOC["protocol_version"] == C.PROTOCOL_VERSION


def _close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a == b or (math.isfinite(a) and math.isclose(a, b, rel_tol=1e-12))
    return a == b


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_vector(v):
    b = bytes.fromhex(v["hex"])
    dec = DECODERS[v["message"]]
    if "error" in v:
        with pytest.raises(E.ERROR_TYPES[v["error"]]) as ei:
            dec(b)
        assert type(ei.value).__name__ == v["error"]
        assert ei.value.reason and ei.value.code != "packet_error"
        assert ei.value.data == b
        return
    exp = v["expected"]
    obj = dec(b)
    if v["message"] == "data":
        for k in ("version", "header_len", "flags", "seq", "boot_id", "first_index", "t_dev_us", "tx_delay_us"):
            assert getattr(obj, k) == exp[k], k
        assert obj.n == exp["count"]
        assert obj.acc_counts.dtype == np.int16 and obj.acc_counts.shape == (obj.n, 3)
        np.testing.assert_array_equal(obj.acc_counts, np.array(exp["acc_counts"]))
        np.testing.assert_array_equal(obj.gyr_counts, np.array(exp["gyr_counts"]))
        if obj.header_len == C.DATA_HEADER_SIZE:  # re-encode gives the same bytes
            assert imu.encode_data(obj.seq, obj.first_index, obj.t_dev_us, obj.acc_counts, obj.gyr_counts,
                                   boot_id=obj.boot_id, flags=obj.flags) == b
        if obj.tx_delay_us is not None and obj.header_len == C.DATA_HEADER_EXT_SIZE:
            assert imu.encode_data(obj.seq, obj.first_index, obj.t_dev_us, obj.acc_counts, obj.gyr_counts,
                                   boot_id=obj.boot_id, flags=obj.flags, tx_delay_us=obj.tx_delay_us) == b
    elif v["message"] in ("info", "status"):
        for k, val in exp.items():
            assert _close(getattr(obj, k), val), k
        if v["message"] == "info" and len(b) == C.INFO_SIZE:
            kw = {k: val for k, val in exp.items() if k != "version"}
            assert imu.encode_info(**kw) == b
        if v["message"] == "status":
            kw = {k: val for k, val in exp.items() if k != "version"}
            assert imu.encode_status(**kw) == b
    elif v["message"] == "control_request":
        assert (obj.opcode, obj.name, obj.token, obj.fields) == (exp["opcode"], exp["name"], exp["token"], exp["fields"])
    else:
        assert (obj.opcode, obj.token, obj.status, obj.status_name) == (exp["opcode"], exp["token"], exp["status"], exp["status_name"])
        assert obj.fields == exp["fields"]
        if obj.opcode in C.OPCODE_NAMES:
            assert imu.encode_control_response(obj.opcode, obj.token, obj.status, **obj.fields) == b


def test_hand_laid_vector_fields():
    # the first vector was built field by field in make_golden_vectors.py; check the spec text's example
    v = next(v for v in VECTORS if v["name"] == "data_1_sample_by_hand")
    assert v["hex"] == "011401010000341200000000" + "0000000000000000" + "6400" + "38ff" + "0040" + "ffff" + "0000" + "ff7f"


def test_info_to_sensor_info():
    v = next(v for v in VECTORS if v["name"] == "info_left_200hz")
    info = imu.decode_info(bytes.fromhex(v["hex"]))
    si = info.to_sensor_info()
    assert si.side == "left" and si.kind == "imugait" and si.sample_rate_hz == 200.0
    assert math.isclose(si.acc_scale_mps2, 16 * 9.80665 / 32768, rel_tol=1e-7)
    assert si.device_id == "IG-000123" and si.firmware == "imugait-fw 1.0.0"
    assert info.to_sensor_info(side="right").side == "right"
    unknown = imu.decode_info(bytes.fromhex(next(v for v in VECTORS if v["name"].startswith("info_unknown"))["hex"]))
    with pytest.raises(E.BadValue):
        unknown.to_sensor_info()


def test_packet_errors_pickle_and_are_imugait_errors():
    import pickle

    from imugait.errors import ImugaitError

    try:
        imu.decode_data(b"\x01\x02")
    except E.PacketError as e:
        e2 = pickle.loads(pickle.dumps(e))
        assert type(e2) is E.TooShort and e2.reason == e.reason and isinstance(e2, ImugaitError)
        assert "too_short" in str(e2)
