"""Device -> host clock mapping: the implementation is :mod:`imugait.clock` (a foundation
module, because the session reader applies the final mapping as well as the acquisition
engine the live one). This name is kept for existing imports."""

from imugait.clock import (ClockFit, ClockMapper, SessionClock, dominated, envelope_fit, hull_fit,  # noqa: F401
                           lower_hull, release_times)

__all__ = ["ClockFit", "ClockMapper", "SessionClock", "dominated", "envelope_fit", "hull_fit", "lower_hull",
           "release_times"]
