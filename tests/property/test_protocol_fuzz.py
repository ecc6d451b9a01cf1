"""Property tests: round trip, and random / mutated bytes give only typed errors."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from imugait.protocol import constants as C
from imugait.protocol import imu
from imugait.protocol.errors import PacketError

DECODERS = (imu.decode_data, imu.decode_info, imu.decode_status, imu.decode_control_request, imu.decode_control_response)


@st.composite
def data_packets(draw):
    n = draw(st.integers(1, 40))
    acc = draw(hnp.arrays(np.int16, (n, 3)))
    gyr = draw(hnp.arrays(np.int16, (n, 3)))
    return dict(
        seq=draw(st.integers(0, 2**16 - 1)),
        first_index=draw(st.integers(0, 2**32 - 1)),
        t_dev_us=draw(st.integers(0, 2**64 - 1)),
        acc_counts=acc,
        gyr_counts=gyr,
        boot_id=draw(st.integers(0, 2**16 - 1)),
        flags=draw(st.integers(0, 255)),
        tx_delay_us=draw(st.one_of(st.none(), st.integers(0, 65534))),
    )


@settings(max_examples=300, deadline=None)
@given(data_packets())
def test_data_round_trip(p):
    b = imu.encode_data(**p)
    hdr = C.DATA_HEADER_SIZE if p["tx_delay_us"] is None else C.DATA_HEADER_EXT_SIZE
    assert len(b) == hdr + len(p["acc_counts"]) * C.SAMPLE_SIZE
    d = imu.decode_data(b)
    assert d.tx_delay_us == p["tx_delay_us"]
    assert (d.seq, d.first_index, d.t_dev_us, d.boot_id, d.flags) == (p["seq"], p["first_index"], p["t_dev_us"], p["boot_id"], p["flags"])
    np.testing.assert_array_equal(d.acc_counts, p["acc_counts"])
    np.testing.assert_array_equal(d.gyr_counts, p["gyr_counts"])


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from(["left", "right", "unknown"]),
    rate_mhz=st.integers(1, 2**32 - 1),
    acc=st.floats(2.0**-20, 1.0, width=32),
    gyr=st.floats(2.0**-20, 1.0, width=32),
    fifo=st.integers(0, 65535),
    spp=st.integers(1, 255),
    boot=st.integers(0, 65535),
    fw=st.text(max_size=4),
    serial=st.text(alphabet="ABC0123:-", max_size=16),
)
def test_info_round_trip(side, rate_mhz, acc, gyr, fifo, spp, boot, fw, serial):
    b = imu.encode_info(side=side, sample_rate_hz=rate_mhz / 1000, acc_scale_mps2=acc, gyr_scale_dps=gyr, acc_range_g=16,
                        gyr_range_dps=2000, fifo_capacity_samples=fifo, samples_per_packet=spp, boot_id=boot,
                        firmware=fw.replace("\0", ""), serial=serial)
    d = imu.decode_info(b)
    assert (d.side, d.rate_mhz, d.acc_scale_mps2, d.gyr_scale_dps, d.fifo_capacity_samples, d.samples_per_packet, d.boot_id) == (
        side, rate_mhz, acc, gyr, fifo, spp, boot)
    assert d.firmware == fw.replace("\0", "") and d.serial == serial


@settings(max_examples=200, deadline=None)
@given(flags=st.integers(0, 255), batt=st.one_of(st.none(), st.integers(0, 100)), boot=st.integers(0, 65535),
       fill=st.integers(0, 65535), dropped=st.integers(0, 2**32 - 1), t=st.integers(0, 2**64 - 1))
def test_status_round_trip(flags, batt, boot, fill, dropped, t):
    d = imu.decode_status(imu.encode_status(flags=flags, battery_pct=batt, boot_id=boot, fifo_fill_samples=fill,
                                            dropped_samples=dropped, t_dev_us=t))
    assert (d.flags, d.battery_pct, d.boot_id, d.fifo_fill_samples, d.dropped_samples, d.t_dev_us) == (flags, batt, boot, fill, dropped, t)


@settings(max_examples=200, deadline=None)
@given(nonce=st.integers(0, 2**32 - 1), t=st.integers(0, 2**64 - 1), token=st.integers(0, 255),
       rate_mhz=st.integers(1, 2**32 - 1))
def test_control_round_trip(nonce, t, token, rate_mhz):
    r = imu.decode_control_request(imu.cmd_time_sync(nonce, token))
    assert r.name == "time_sync" and r.fields == {"nonce": nonce} and r.token == token
    r = imu.decode_control_request(imu.cmd_set_rate(rate_mhz / 1000, token))
    assert round(r.fields["rate_hz"] * 1000) == rate_mhz
    resp = imu.decode_control_response(imu.encode_control_response(C.OP_TIME_SYNC, token, nonce=nonce, t_dev_us=t))
    assert resp.ok and resp.fields == {"nonce": nonce, "t_dev_us": t}


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_hypothesis_random_bytes_only_typed_errors(b):
    for dec in DECODERS:
        try:
            dec(b)
        except PacketError as e:
            assert e.reason


def test_10000_random_and_mutated_buffers_only_typed_errors():
    """12,000 buffers (random lengths/bytes, plus valid packets with flipped bytes,
    truncations and extensions) through every decoder: a valid decode or a PacketError."""
    rng = np.random.default_rng(1234)
    acc = rng.integers(-32768, 32768, (8, 3)).astype(np.int16)
    valid = [
        imu.encode_data(7, 100, 10**6, acc, acc, boot_id=3),
        imu.encode_data(7, 100, 10**6, acc[:1], acc[:1], boot_id=3),
        imu.encode_data(7, 100, 10**6, acc[:3], acc[:3], boot_id=3, tx_delay_us=12345),
        imu.encode_info(side="left", sample_rate_hz=200, acc_scale_mps2=0.0048, gyr_scale_dps=0.061, acc_range_g=16,
                        gyr_range_dps=2000, fifo_capacity_samples=1024, samples_per_packet=4),
        imu.encode_status(flags=1, battery_pct=50, boot_id=3, fifo_fill_samples=10, dropped_samples=0, t_dev_us=5),
        imu.cmd_time_sync(99, 1),
        imu.encode_control_response(C.OP_TIME_SYNC, 1, nonce=99, t_dev_us=5),
    ]
    counts = {"ok": 0, "err": 0}
    codes = set()
    n_buffers = 0
    for i in range(12000):
        kind = i % 3
        if kind == 0:
            b = rng.integers(0, 256, int(rng.integers(0, 120)), dtype=np.uint8).tobytes()
        elif kind == 1:  # mutate 1-3 bytes of a valid packet (version byte kept half of the time)
            arr = bytearray(valid[int(rng.integers(len(valid)))])
            for _ in range(int(rng.integers(1, 4))):
                j = int(rng.integers(len(arr)))
                if j == 0 and rng.random() < 0.5:
                    continue
                arr[j] = int(rng.integers(256))
            b = bytes(arr)
        else:  # truncate or extend a valid packet
            v = valid[int(rng.integers(len(valid)))]
            cut = int(rng.integers(0, len(v) + 16))
            b = v[:cut] + rng.integers(0, 256, max(0, cut - len(v)), dtype=np.uint8).tobytes()
        n_buffers += 1
        for dec in DECODERS:
            try:
                dec(b)
                counts["ok"] += 1
            except PacketError as e:
                counts["err"] += 1
                codes.add(e.code)
    assert n_buffers >= 10000
    assert counts["ok"] > 100 and counts["err"] > 10000  # both paths really exercised
    assert {"too_short", "bad_version", "count_mismatch", "unknown_type", "bad_value"} <= codes
