"""Simulated sessions for validation, tests, benchmarks and examples.

``write_sim_session(path, SimConfig(...))`` writes a simulator recording straight into an
HDF5 session (no BLE, device clock mapped to the true session time), the same layout
``imugait record`` produces. ``sim_arrays(rec)`` gives the analysis inputs in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def sim_arrays(rec) -> dict:
    """``{side: (t_s, acc_mps2, gyr_dps)}`` of a ``SimRecording`` (true session time)."""
    return {side: (s.t_true_s, s.acc_mps2, s.gyr_dps) for side, s in rec.sides.items()}


def write_sim_session(path, cfg_or_rec, meta: dict | None = None, block_s: float = 1.0) -> Path:
    """Simulate (if given a ``SimConfig``) and write a session file; returns its path."""
    from imugait.sim.gait import SimConfig, simulate
    from imugait.store.writer import SessionWriter
    from imugait.types import SampleBlock

    rec = simulate(cfg_or_rec) if isinstance(cfg_or_rec, SimConfig) else cfg_or_rec
    cfg = rec.config
    m = {"source": "simulated", "activity": cfg.gait,
         "source_json": {"generator": "imugait.sim.gait", "config": cfg.to_dict()}}
    m.update(meta or {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = SessionWriter(path, m, overwrite=True)
    try:
        for side, s in rec.sides.items():
            w.add_sensor(s.info)
        w.start()
        for side, s in rec.sides.items():
            n = s.n
            step = max(1, int(round(block_s * s.info.sample_rate_hz)))
            for i0 in range(0, n, step):
                i1 = min(n, i0 + step)
                blk = SampleBlock(side=side, first_index=int(s.sample_index[i0]), t_dev_s=s.t_dev_s[i0:i1],
                                  acc_counts=s.acc_counts[i0:i1], gyr_counts=s.gyr_counts[i0:i1],
                                  acc_scale_mps2=s.info.acc_scale_mps2, gyr_scale_dps=s.info.gyr_scale_dps)
                w.append_block(blk, s.t_true_s[i0:i1])
        w.close("simulation written")
    except BaseException:
        try:
            w.close("error while writing simulation")
        finally:
            raise
    return path


def same_sensor_errors(rec_from, rec_to, seed: int = 0):
    """Give ``rec_to`` the *static* sensor errors (scale factors, axis misalignment,
    constant biases) of ``rec_from`` — the same physical sensors worn in both sessions —
    keeping ``rec_to``'s own noise and bias drift drawn fresh. Uses the simulator's
    documented error model ``y = (M·diag(scale)) x + b + drift + noise`` on the ideal
    signals ``acc_true_mps2``/``gyr_true_dps`` and requantises. Modifies ``rec_to`` in place.
    """
    cfg = rec_to.config
    rng = np.random.default_rng([seed, 7919])
    for side, st in rec_to.sides.items():
        sf = rec_from.sides[side]
        pf = sf.sensor_params
        if "gyr_scale_factor" not in pf:
            continue  # ideal sensor: nothing to copy
        n = st.n
        fs = float(cfg.fs_hz)
        sqdt = np.sqrt(1.0 / fs)
        out = {}
        for kind, true, sc, M, b, rw_sd, nd in (
            ("acc", st.acc_true_mps2, pf["acc_scale_factor"], pf["acc_misalignment"], pf["acc_bias_mps2"],
             cfg.acc_bias_rw_mps2_rts, cfg.acc_noise_density_mps2_rthz),
            ("gyr", st.gyr_true_dps, pf["gyr_scale_factor"], pf["gyr_misalignment"], pf["gyr_bias_dps"],
             cfg.gyr_bias_rw_dps_rts, cfg.gyr_noise_density_dps_rthz),
        ):
            sc = np.asarray(sc, float)
            M = np.asarray(M, float)
            rw = np.cumsum(rng.standard_normal((n, 3)), axis=0) * (rw_sd * sqdt)
            nz = rng.standard_normal((n, 3)) * (nd * np.sqrt(fs / 2.0))
            out[kind] = np.asarray(true, float) @ (M * sc[:, None]).T + np.asarray(b, float) + rw + nz
        acc_scale, gyr_scale = st.info.acc_scale_mps2, st.info.gyr_scale_dps
        st.acc_counts = np.clip(np.rint(out["acc"] / acc_scale), -32768, 32767).astype(np.int16)
        st.gyr_counts = np.clip(np.rint(out["gyr"] / gyr_scale), -32768, 32767).astype(np.int16)
        st.acc_mps2 = st.acc_counts.astype(np.float64) * acc_scale
        st.gyr_dps = st.gyr_counts.astype(np.float64) * gyr_scale
        st.sensor_params = {**st.sensor_params, **{k: pf[k] for k in (
            "acc_scale_factor", "gyr_scale_factor", "acc_misalignment", "gyr_misalignment",
            "acc_bias_mps2", "gyr_bias_dps")}}
    return rec_to
