"""`imugait record`'s recorder on real bleak through the emulated BlueZ: sensors connect
(the file is created once both have sent their information), one reboots mid-recording,
and the session keeps the reconnect, the new sensor information and the counter restart."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dbus_fast", reason="the emulated BlueZ needs dbus-fast (Linux only)")

from ble_fixtures import requires_bluez  # noqa: E402

import imugait  # noqa: E402
from imugait.sim.demo_ble import DEMO_ADDRESSES, demo_ble_source  # noqa: E402
from imugait.app.record import RecordOptions, run_record  # noqa: E402

pytestmark = [pytest.mark.ble, requires_bluez]


def test_record_over_ble_with_a_reboot(tmp_path):
    from imugait.sim.gait import SimConfig, simulate

    rec = simulate(SimConfig(gait="run", duration_s=7.0, fs_hz=200, seed=4, stand_before_s=2.0))
    out = tmp_path / "ble.h5"
    opts = RecordOptions(out=out, duration_s=6.0, meta={"subject_id": "B1", "condition": "pre-stretch"},
                         quiet=True, analyze_after=True)
    with demo_ble_source(rec, world_offset_s=2.0) as demo:
        bz = demo.emulator
        bz.schedule(2.0 + 3.0, lambda: bz.reboot(DEMO_ADDRESSES["right"], down_s=0.3))
        code = run_record(opts, source=demo.source,
                          source_meta={"source": "ble", "source_json": {"emulated": True}})
    assert code == 0
    with imugait.open_session(out) as s:
        assert s.sides == ("left", "right") and s.closed_cleanly
        assert s.meta["source"] == "ble" and s.sensor_info("left").kind == "imugait"
        left, right = s.stats("left"), s.stats("right")
        assert left["duration_s"] >= 5.0 and left["gap_pct"] < 1.0
        assert right["counter_restarts"] == 1
        states = s.link_events("right").state.tolist()
        assert states.count("connected") == 2 and "reconnecting" in states
        assert len(s.info_log("right")) == 2  # information re-read after the reconnect
        t, acc, gyr = s.imu("right")
        assert np.all(np.diff(t) > 0)  # after the reboot the data continues on the session clock
        assert s.current_run is not None and s.derived_current
