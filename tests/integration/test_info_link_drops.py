"""`imugait info` counts link drops, not reconnect attempts (review-11: one 10 s outage with
several reconnect attempts was reported as "7 link drop(s)")."""

from cli_helper import run_cli

from imugait.sim.gait import SimConfig, simulate
from imugait.store.writer import SessionWriter
from imugait.types import SampleBlock


def test_one_outage_with_retries_is_one_link_drop(tmp_path, capsys):
    rec = simulate(SimConfig(gait="walk", duration_s=6.0, fs_hz=100.0, seed=1, sides=("left",)))
    s = rec.sides["left"]
    path = tmp_path / "s.h5"
    w = SessionWriter(path, {"source": "simulated"})
    w.add_sensor(s.info)
    w.start()
    w.append_block(SampleBlock(side="left", first_index=0, t_dev_s=s.t_dev_s, acc_counts=s.acc_counts,
                               gyr_counts=s.gyr_counts, acc_scale_mps2=s.info.acc_scale_mps2,
                               gyr_scale_dps=s.info.gyr_scale_dps), s.t_true_s)
    t0 = w.t0_host_s
    for dt, state in [(0.0, "connecting"), (0.1, "connected"), (2.0, "reconnecting"), (3.0, "reconnecting"),
                      (4.0, "reconnecting"), (5.0, "connected"), (5.5, "reconnecting"), (5.8, "connected")]:
        w.add_link_event("left", state, t0 + dt, "", False)
    w.close("test")
    assert run_cli(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 link drop(s)" in out, out
