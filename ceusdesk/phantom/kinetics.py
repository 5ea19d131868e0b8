"""Time–intensity curves: gamma-variate first pass + recirculating blood pool + Kupffer uptake.

All functions take ``t`` in seconds after injection (scalar or array) and return linear signal in the
phantom's concentration units. The liver gets a dual supply (hepatic artery + portal vein); the lesion
gets its own arterial and portal volumes, a washout onset and rate, and its Kupffer-cell content.
"""
from __future__ import annotations

import numpy as np

from ceusdesk.phantom.params import Kinetics, Lesion

ALPHA = 3.0  # gamma-variate shape; the peak sits at ALPHA * beta after arrival


def gamma_variate(t: np.ndarray | float, t0: float, t_peak: float) -> np.ndarray:
    """Unit-peak gamma variate starting at ``t0`` and peaking ``t_peak`` s later."""
    t = np.asarray(t, dtype=np.float64)
    beta = t_peak / ALPHA
    x = np.clip((t - t0) / beta, 0.0, None)
    return (x / ALPHA) ** ALPHA * np.exp(ALPHA - x)


def _pool(t: np.ndarray, t0: float, k: Kinetics) -> np.ndarray:
    """Recirculated blood-pool level: mixes in over ~15 s, then clears with ``tau_clear``."""
    dt = np.clip(t - t0, 0.0, None)
    return k.equilibrium * (1.0 - np.exp(-dt / 15.0)) * np.exp(-dt / k.tau_clear)


def arterial(t, k: Kinetics, shift: float = 0.0) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    t0 = k.t_arrival + shift
    return k.first_pass * gamma_variate(t, t0, k.t_rise) + _pool(t, t0, k)


def portal(t, k: Kinetics) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    t0 = k.t_arrival + k.portal_delay
    return 0.75 * k.first_pass * gamma_variate(t, t0, k.t_rise * k.portal_spread) + _pool(t, t0, k)


def hepatic_vein(t, k: Kinetics) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    t0 = k.t_arrival + k.portal_delay + 8.0
    return 0.5 * k.first_pass * gamma_variate(t, t0, k.t_rise * 2.5) + 0.9 * _pool(t, t0, k)


def kupffer(t, k: Kinetics) -> np.ndarray:
    """Microbubbles taken up by Kupffer cells: builds from the portal arrival toward ~10 min."""
    t = np.asarray(t, dtype=np.float64)
    dt = np.clip(t - (k.t_arrival + k.portal_delay), 0.0, None)
    return k.kupffer_max * (1.0 - np.exp(-dt / k.tau_kupffer))


def liver(t, k: Kinetics) -> np.ndarray:
    """Parenchymal signal: dual blood supply plus Kupffer uptake."""
    blood = k.arterial_fraction * arterial(t, k) + (1.0 - k.arterial_fraction) * portal(t, k)
    return k.blood_fraction * blood + kupffer(t, k)


def washout_factor(t, lesion: Lesion) -> np.ndarray:
    """Fraction of lesion blood signal left: 1 before onset, decays to ``washout_floor`` after."""
    t = np.asarray(t, dtype=np.float64)
    if not np.isfinite(lesion.t_washout):
        return np.ones_like(t)
    dt = np.clip(t - lesion.t_washout, 0.0, None)
    return lesion.washout_floor + (1.0 - lesion.washout_floor) * np.exp(-dt / lesion.tau_washout)


def lesion_blood(t, k: Kinetics, lesion: Lesion) -> np.ndarray:
    """Lesion blood signal where it is perfused (multiply by the spatial fill map)."""
    art = lesion.v_art * arterial(t, k, lesion.arrival_shift)
    por = lesion.v_portal * portal(t, k)
    return (art + por) * washout_factor(t, lesion)


def fill_front(t: float, k: Kinetics, lesion: Lesion) -> float:
    """How far contrast has filled the lesion, 0 (nothing) .. 1 (all), for nodular/spoke patterns."""
    dt = t - (k.t_arrival + lesion.arrival_shift)
    if dt <= 0:
        return 0.0
    return float(1.0 - np.exp(-dt / max(lesion.tau_fill, 1e-3)))
