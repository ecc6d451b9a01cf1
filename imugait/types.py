"""Data that crosses stage boundaries.

``SensorInfo``   what a sensor says about itself (re-read after every reconnect).
``SampleBlock``  a run of consecutive samples from one packet, as integer counts with scale
                 factors, device time and sample index — what the recorder stores and
                 what the analysis consumes (after clock mapping, via :meth:`SampleBlock.si`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imugait.conventions import Side


@dataclass(frozen=True)
class SensorInfo:
    """Static description of one sensor.

    ``acc_scale_mps2`` and ``gyr_scale_dps`` convert integer counts to SI units
    (value = counts × scale). ``mounting`` is free text ("lateral thigh, 10 cm above
    knee"); the analysis never trusts it, calibration measures the real orientation.
    """

    side: Side
    kind: str  # "imugait", "polar", "movesense", "simulated", "csv", "hugadb"
    sample_rate_hz: float
    acc_scale_mps2: float
    gyr_scale_dps: float
    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0
    firmware: str = ""
    mounting: str = ""
    device_id: str = ""  # address or serial
    name: str = ""

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class SampleBlock:
    """Consecutive samples of one sensor, as sent (one packet or one file chunk).

    * ``first_index``  device sample counter of the first sample; sample ``k`` of the block
      has index ``first_index + k``. Gaps and duplicates are counted from it.
    * ``t_dev_s``      device time of each sample (float64, seconds, device clock).
    * ``acc_counts``   (n, 3) int16 in the sensor frame; ``gyr_counts`` likewise.
    * ``t_arrival_host_s`` host monotonic time when the packet arrived (NaN for files).
    * ``seq``          packet sequence number (``-1`` when the source has none).
    """

    side: Side
    first_index: int
    t_dev_s: np.ndarray
    acc_counts: np.ndarray
    gyr_counts: np.ndarray
    acc_scale_mps2: float
    gyr_scale_dps: float
    seq: int = -1
    t_arrival_host_s: float = float("nan")
    extra: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return int(self.acc_counts.shape[0])

    @property
    def n(self) -> int:
        return len(self)

    @property
    def sample_index(self) -> np.ndarray:
        return self.first_index + np.arange(len(self), dtype=np.int64)

    @property
    def acc_mps2(self) -> np.ndarray:
        return self.acc_counts.astype(np.float64) * self.acc_scale_mps2

    @property
    def gyr_dps(self) -> np.ndarray:
        return self.gyr_counts.astype(np.float64) * self.gyr_scale_dps
