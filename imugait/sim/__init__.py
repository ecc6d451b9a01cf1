"""Simulation: a physically based thigh-IMU gait simulator with ground truth
(:mod:`imugait.sim.gait`), virtual sensor firmware (:mod:`imugait.sim.firmware`) and the
``imugait simulate`` command (:mod:`imugait.cli.simulate`).

Import the simulator as ``from imugait.sim.gait import SimConfig, simulate``;
``python -m imugait.sim.typical`` prints the gait values it produces (docs/simulator.md).
"""
