#!/usr/bin/env python
"""Virtual thigh IMUs with force-plate truth from the Fukuchi et al. 2017 running data set.

Fukuchi RK, Fukuchi CA, Duarte M. A public dataset of running biomechanics and the effects of
running speed on lower extremity kinematics and kinetics. PeerJ 2017;5:e3298,
doi:10.7717/peerj.3298 (data CC-BY-4.0). Input: the data set's ASCII exports
``RBDSnnnrunTxxmarkers.txt`` (150 Hz, mm, lab X forward, Y up, Z right, a 4-marker rigid
cluster per thigh), ``RBDSnnnrunTxxforces.txt`` (one treadmill force plate, 300 Hz, ``Fy``
vertical) and ``RBDSnnnstatic.txt``.

Method (the one described in ``/work/shared/data/running_fukuchi/README.md``, re-implemented
here so that more runners can be added; validated by regenerating RBDS001 2.5 m/s and
comparing with the shared case — see ``--check``):

1. the 4 thigh-cluster markers are low-passed (2nd-order Butterworth forwards and backwards,
   15 Hz), put on a uniform 200 Hz time base by a quintic spline, 0.1 s trimmed at each end;
   short marker gaps are filled from the rigid cluster (shape fitted to the seen markers, the
   residual at the gap edges interpolated across the gap);
2. cluster orientation ``R(t)`` (cluster → lab) by a Kabsch/SVD fit of the centred markers to
   the cluster's mean shape (generalised Procrustes over the trial);
3. sensor frame ``R_s = R·M``, ``M`` a seeded random rotation (the strap);
4. gyro ``rotvec(R_s(k−1)ᵀ R_s(k+1)) / (2Δt)`` (deg/s, body frame);
5. accelerometer ``R_sᵀ (p̈ − g)``, p the cluster centroid (spline 2nd derivative),
   ``g = (0, −9.80665, 0)``;
6. per side a constant gyro bias N(0, 0.5 deg/s) per axis, white noise N(0, 0.02 m/s²) and
   N(0, 0.1 deg/s);
7. optionally a standing period first (``--stand-s``, default 4 s: the static trial's mean
   cluster orientation held still, same sensor errors) and a data gap (``--gap-s``, 2 s).

Truth: vertical force low-passed at 40 Hz (2nd-order Butterworth, zero phase); IC / TO where
it rises above / falls below 50 N (linear interpolation); a contact belongs to the foot whose
heel markers are lower at mid-contact. A stride runs IC → next IC of the same foot, is kept
when exactly one contralateral contact lies between and its length is 0.6–1.5× the median;
strides within 0.3 s of the start or 0.1 s of the end of the running data are dropped. The
mocap thigh angle is the cluster's long axis (mean of the two top markers − the two bottom
ones) in the lab X–Y plane, from vertical, flexion +; ``rom_deg`` = max − min over the stride.

This script is the project's own code; the data stay outside the repository. ::

    .venv/bin/python tools/fukuchi_virtual_imu.py --raw DIR --subject RBDS002 --trial T25 \
        --speed 2.5 --out OUTDIR/rbds002_run25 [--stand-s 4 --gap-s 2 --seed N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.interpolate import make_interp_spline
from scipy.signal import butter, filtfilt
from scipy.spatial.transform import Rotation

from imugait.conventions import GRAVITY_MPS2
from imugait.store import write_imu_csv

MARKERS = ("Thigh.Top.Lateral", "Thigh.Bottom.Lateral", "Thigh.Top.Medial", "Thigh.Bottom.Medial")
MOCAP_HZ = 150.0
FORCE_HZ = 300.0
IMU_HZ = 200.0
TRIM_S = 0.1


def read_markers(path: Path, side_letter: str) -> tuple[np.ndarray, np.ndarray]:
    """(t_s, (n, 4, 3) metres) of one thigh cluster; NaN where a marker was not seen."""
    d = pd.read_csv(path, sep="\t")
    # the Time column is printed with 3 decimals (0, 0.007, 0.013, ...): the frame index is the
    # clock (150 Hz); the rounded stamps would put ±0.3 ms of jitter into the second derivative
    t = np.arange(len(d)) / MOCAP_HZ
    xyz = np.stack([d[[f"{side_letter}.{m}{a}" for a in "XYZ"]].to_numpy(float) for m in MARKERS], axis=1)
    return t, xyz / 1000.0


def kabsch(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Rotation R minimising ‖R·Aᵢ − Bᵢ‖ (both centred, (k, 3))."""
    H = A.T @ B
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    D = np.diag([1.0, 1.0, d])
    return Vt.T @ D @ U.T


def fill_gaps(xyz: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill frames where one marker is missing from the rigid cluster (shape fitted to the
    three seen markers, residual at the gap edges interpolated across the gap)."""
    xyz = xyz.copy()
    miss = np.isnan(xyz).any(axis=2)  # (n, 4)
    n_filled = int(miss.sum())
    if not n_filled:
        return xyz, 0
    full = ~miss.any(axis=1)
    shape = np.mean([f - f.mean(axis=0) for f in xyz[full]], axis=0)
    pred = np.full_like(xyz, np.nan)
    for k in np.flatnonzero(miss.any(axis=1)):
        seen = ~miss[k]
        if seen.sum() < 3:
            raise ValueError(f"frame {k}: fewer than 3 thigh markers seen, cannot fill")
        A = shape[seen] - shape[seen].mean(axis=0)
        B = xyz[k, seen] - xyz[k, seen].mean(axis=0)
        R = kabsch(A, B)
        pred[k] = (shape - shape[seen].mean(axis=0)) @ R.T + xyz[k, seen].mean(axis=0)
    for m in range(4):
        gaps = miss[:, m]
        if not gaps.any():
            continue
        idx = np.flatnonzero(gaps)
        starts = idx[np.r_[True, np.diff(idx) > 1]]
        ends = idx[np.r_[np.diff(idx) > 1, True]]
        for a, b in zip(starts, ends):
            lo, hi = a - 1, b + 1
            res_lo = xyz[lo, m] - _pred_at(xyz, shape, lo, m) if lo >= 0 else np.zeros(3)
            res_hi = xyz[hi, m] - _pred_at(xyz, shape, hi, m) if hi < len(xyz) else res_lo
            if lo < 0:
                res_lo = res_hi
            for k in range(a, b + 1):
                f = (k - lo) / (hi - lo)
                xyz[k, m] = pred[k, m] + (1 - f) * res_lo + f * res_hi
    return xyz, n_filled


def _pred_at(xyz, shape, k, m):
    """Marker m at frame k predicted from the other three (used for the gap-edge residual)."""
    seen = np.arange(4) != m
    A = shape[seen] - shape[seen].mean(axis=0)
    B = xyz[k, seen] - xyz[k, seen].mean(axis=0)
    R = kabsch(A, B)
    return (shape[m] - shape[seen].mean(axis=0)) @ R.T + xyz[k, seen].mean(axis=0)


def lowpass(x: np.ndarray, fc_hz: float, fs_hz: float, axis=0) -> np.ndarray:
    b, a = butter(2, fc_hz / (fs_hz / 2))
    return filtfilt(b, a, x, axis=axis)


def cluster_kinematics(t: np.ndarray, xyz: np.ndarray):
    """Filtered, resampled cluster: (t_imu, R (n,3,3) cluster→lab, centroid acc (n,3) m/s²,
    marker positions (n,4,3) on the IMU grid)."""
    f = lowpass(xyz.reshape(len(t), -1), 15.0, MOCAP_HZ).reshape(xyz.shape)
    t_imu = np.arange(t[0] + TRIM_S, t[-1] - TRIM_S + 1e-9, 1.0 / IMU_HZ)
    spl = make_interp_spline(t, f.reshape(len(t), -1), k=5)
    pos = spl(t_imu).reshape(len(t_imu), 4, 3)
    cen = pos.mean(axis=1)
    acc = make_interp_spline(t, f.mean(axis=1), k=5).derivative(2)(t_imu)
    shape = generalised_procrustes(pos)
    R = np.stack([kabsch(shape, p - p.mean(axis=0)) for p in pos])
    return t_imu, R, acc, pos, cen


def generalised_procrustes(pos: np.ndarray, iters: int = 5) -> np.ndarray:
    c = pos - pos.mean(axis=1, keepdims=True)
    shape = c[0].copy()
    for _ in range(iters):
        al = np.stack([p @ kabsch(p, shape).T for p in c])
        shape = al.mean(axis=0)
    return shape - shape.mean(axis=0)


def long_axis_angle_deg(pos: np.ndarray) -> np.ndarray:
    """Sagittal angle of the cluster's long axis from vertical, flexion + (lab X forward, Y up)."""
    top = 0.5 * (pos[..., 0, :] + pos[..., 2, :])
    bot = 0.5 * (pos[..., 1, :] + pos[..., 3, :])
    ax = top - bot
    return np.degrees(np.arctan2(-ax[..., 0], ax[..., 1]))


def imu_signals(R_s: np.ndarray, acc_lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(R_s)
    gyr = np.zeros((n, 3))
    rel = np.einsum("nji,njk->nik", R_s[:-2], R_s[2:])
    gyr[1:-1] = Rotation.from_matrix(rel).as_rotvec() * IMU_HZ / 2.0
    gyr[0], gyr[-1] = gyr[1], gyr[-2]
    g = np.array([0.0, -GRAVITY_MPS2, 0.0])
    acc = np.einsum("nji,nj->ni", R_s, acc_lab - g)
    return acc, np.degrees(gyr)


def contacts(force_path: Path):
    """(ic_s, to_s) of every contact from the vertical force (40 Hz low-pass, 50 N)."""
    d = pd.read_csv(force_path, sep="\t")
    fy = lowpass(d["Fy"].to_numpy(float), 40.0, FORCE_HZ)
    t = (d["Time"].to_numpy(float) - 1.0) / FORCE_HZ
    on = fy > 50.0
    up = np.flatnonzero(~on[:-1] & on[1:])
    dn = np.flatnonzero(on[:-1] & ~on[1:])
    cross = lambda i: t[i] + (50.0 - fy[i]) / (fy[i + 1] - fy[i]) / FORCE_HZ  # noqa: E731
    out = []
    for i in up:
        j = dn[dn > i]
        if len(j):
            out.append((float(cross(i)), float(cross(j[0]))))
    return out


def build_case(raw: Path, subject: str, trial: str, speed: float, out: Path, seed: int, stand_s: float, gap_s: float) -> dict:
    mk = raw / f"{subject}run{trial}markers.txt"
    fo = raw / f"{subject}run{trial}forces.txt"
    st = raw / f"{subject}static.txt"
    rng = np.random.default_rng(seed)
    sides, heel_y, t_mk = {}, {}, None
    d_all = pd.read_csv(mk, sep="\t")
    for side, L in (("left", "L"), ("right", "R")):
        t, xyz = read_markers(mk, L)
        xyz, n_filled = fill_gaps(xyz)
        t_imu, R, acc_lab, pos, _ = cluster_kinematics(t, xyz)
        ts, xs = read_markers(st, L)
        xs, _ = fill_gaps(xs)
        shape = generalised_procrustes(pos)
        R_static = np.stack([kabsch(shape, p - p.mean(axis=0)) for p in xs])
        R_stand = Rotation.from_matrix(R_static).mean().as_matrix()
        neutral = float(np.mean(long_axis_angle_deg(xs)))
        M = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
        bias = rng.normal(0.0, 0.5, 3)
        R_s = R @ M
        acc, gyr = imu_signals(R_s, acc_lab)
        n_stand = int(round(stand_s * IMU_HZ))
        t0_run = stand_s + gap_s if stand_s > 0 else 0.0
        t_run = t0_run + (t_imu - t_imu[0])
        if n_stand:
            Rs0 = R_stand @ M
            acc0 = np.tile(Rs0.T @ np.array([0.0, GRAVITY_MPS2, 0.0]), (n_stand, 1))
            gyr0 = np.zeros((n_stand, 3))
            t_st = np.arange(n_stand) / IMU_HZ
            acc, gyr, tt = np.vstack([acc0, acc]), np.vstack([gyr0, gyr]), np.concatenate([t_st, t_run])
        else:
            tt = t_run
        acc = acc + rng.normal(0.0, 0.02, acc.shape)
        gyr = gyr + bias + rng.normal(0.0, 0.1, gyr.shape)
        ang = long_axis_angle_deg(pos)
        sides[side] = dict(t=tt, acc=acc, gyr=gyr, t_run=t_run, ang=ang, neutral=neutral, M=M, bias=bias, n_filled=n_filled)
        heel_y[side] = d_all[[f"{L}.Heel.BottomY", f"{L}.Heel.TopY"]].to_numpy(float).mean(axis=1)
        t_mk = t
    shift = sides["left"]["t_run"][0] - (t_mk[0] + TRIM_S)  # marker time -> output time
    cons = []
    for ic, to in contacts(fo):
        mid = 0.5 * (ic + to)
        k = int(np.clip(round(mid * MOCAP_HZ), 0, len(t_mk) - 1))
        foot = "left" if heel_y["left"][k] < heel_y["right"][k] else "right"
        cons.append((foot, ic + shift, to + shift))
    t_lo, t_hi = sides["left"]["t_run"][0] + 0.3, sides["left"]["t_run"][-1] - 0.1
    strides = []
    for side in ("left", "right"):
        own = [c for c in cons if c[0] == side]
        med = float(np.median(np.diff([c[1] for c in own])))
        s = sides[side]
        for a, b in zip(own[:-1], own[1:]):
            T = b[1] - a[1]
            contra = [c for c in cons if c[0] != side and a[1] < c[1] < b[1]]
            if len(contra) != 1 or not (0.6 * med <= T <= 1.5 * med) or a[1] < t_lo or b[1] > t_hi:
                continue
            m = (s["t_run"] >= a[1]) & (s["t_run"] < b[1])
            ang = s["ang"][m]
            strides.append(dict(side=side, ic_s=round(a[1], 5), to_s=round(a[2], 5), next_ic_s=round(b[1], 5),
                                stride_s=round(T, 5), rom_deg=round(float(ang.max() - ang.min()), 5),
                                flex_peak_deg=round(float(ang.max() - s["neutral"]), 5),
                                ext_peak_deg=round(float(ang.min() - s["neutral"]), 5)))
    out.mkdir(parents=True, exist_ok=True)
    for side in ("left", "right"):
        s = sides[side]
        write_imu_csv(out / f"{side}.csv", s["t"], s["acc"], s["gyr"])
    pd.DataFrame({"time_s": sides["left"]["t_run"], "left_deg": sides["left"]["ang"], "right_deg": sides["right"]["ang"]}).to_csv(
        out / "mocap_thigh_angle.csv", index=False, float_format="%.5f")
    truth = {
        "source": "fukuchi2017", "gait": "run", "subject": subject, "trial": trial,
        "file": f"{mk.name} {fo.name} {st.name}", "reference": "force plate (treadmill), mocap thigh cluster",
        "speed_mps": speed, "rate_hz": IMU_HZ, "seed": seed,
        "standing": (f"{stand_s:g} s still (static-trial mean cluster orientation) + {gap_s:g} s data gap, run from {stand_s + gap_s:g} s"
                     if stand_s > 0 else "no standing period: running from 0 s"),
        "neutral": {s: {"neutral_long_axis_deg": round(sides[s]["neutral"], 3)} for s in sides},
        "mount_left": sides["left"]["M"].tolist(), "mount_right": sides["right"]["M"].tolist(),
        "gyro_bias_left_dps": sides["left"]["bias"].tolist(), "gyro_bias_right_dps": sides["right"]["bias"].tolist(),
        "contacts": {s: sum(c[0] == s for c in cons) for s in ("left", "right")},
        "virtual_imu": {"marker_lowpass_hz": 15.0, "force_lowpass_hz": 40.0, "force_threshold_n": 50.0, "acc_noise_mps2": 0.02,
                        "gyr_noise_dps": 0.1, "gyr_bias_sd_dps": 0.5, "mocap_rate_hz": MOCAP_HZ,
                        "marker_gap_frames_filled": {s: sides[s]["n_filled"] for s in sides},
                        "generator": "imugait tools/fukuchi_virtual_imu.py"},
        "strides": strides,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", required=True, type=Path, help="folder with RBDS*markers.txt / *forces.txt / *static.txt")
    ap.add_argument("--subject", required=True)
    ap.add_argument("--trial", required=True, help="e.g. T25")
    ap.add_argument("--speed", required=True, type=float)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=2001)
    ap.add_argument("--stand-s", type=float, default=4.0)
    ap.add_argument("--gap-s", type=float, default=2.0)
    a = ap.parse_args(argv)
    for f in (a.raw / f"{a.subject}run{a.trial}markers.txt", a.raw / f"{a.subject}run{a.trial}forces.txt", a.raw / f"{a.subject}static.txt"):
        if not f.exists():
            raise SystemExit(f"{f}: not found — download the Fukuchi 2017 ASCII files (doi:10.7717/peerj.3298) into --raw")
    tr = build_case(a.raw, a.subject, a.trial, a.speed, a.out, a.seed, a.stand_s, a.gap_s)
    n = {s: sum(x["side"] == s for x in tr["strides"]) for s in ("left", "right")}
    print(f"{a.out}: contacts {tr['contacts']}, strides with truth {n}")


if __name__ == "__main__":
    main()
