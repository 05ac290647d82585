"""Supply voltage: which ``vdd_v`` a node's fits cover, the clock it allows, and its leakage.

A design may run below (or above) its node's nominal supply (``ArchSpec.vdd_v``; ``None`` = the
node's ``NOMINAL_VDD_V``, today's results unchanged). Three effects, each a documented model:

- **dynamic energy** ∝ the Stillmaker & Baas 2017 polynomial ``a·V² + b·V + c`` of the node
  (``accelerator.tech.node_energy_factor(node, vdd)``, applied wherever the node factor is);
- **maximum clock**, the alpha-power law (Sakurai & Newton, "Alpha-power law MOSFET model and its
  applications to CMOS inverter delay and other formulas", IEEE JSSC 25(2), 1990): gate delay
  ∝ ``V / (V − Vt)^α``, so ``f_max(V) = f_nom · g(V) / g(V_nom)`` with ``g(V) = (V − Vt)^α / V``;
- **leakage power** ∝ ``V`` (:func:`leakage_voltage_factor`): the leakage current held constant,
  a first-order estimate without drain-induced barrier lowering (DIBL), which would make leakage
  fall faster with ``V``; so it overstates leakage at a lowered supply (assumption, conservative).

All values are in the unit their name says.
"""

from __future__ import annotations

from accelerator.errors import SpecError
from accelerator.tech import KNOWN_NODES_NM, NOMINAL_VDD_V, energy_polynomial

#: Velocity-saturation index of the alpha-power law: α ≈ 1.3 for short-channel devices
#: (Sakurai & Newton, IEEE JSSC 1990, fitted 1.2–1.3 on sub-micron MOSFETs; 2 = the long-channel
#: square law). Assumption that it holds at FinFET nodes too.
ALPHA = 1.3

#: Threshold voltage (V), the same at every node: ~0.3 V is typical of low-power logic devices from
#: 65 nm to 7 nm FinFETs (assumption, stated: no per-node Vt in our sources; near-threshold
#: operation, Dreslinski et al., Proc. IEEE 98(2), 2010, sits at ~Vt to Vt + 0.2 V).
VT_V = 0.3

#: The alpha-power law and the energy polynomials are super-threshold fits: a supply within this
#: margin of Vt is refused (V).
VT_MARGIN_V = 0.1

#: Clock (GHz) a pipelined MAC-array datapath is assumed to close timing at, at the node's nominal
#: supply: f_nom of the alpha-power law (assumption, stated: shipped datapaths as anchors, the rest
#: interpolated): 7 nm 2.0 (the H100's SMs boost to 1.98 GHz on TSMC 4N, a 5 nm-class node; A100 on
#: N7 1.41 GHz), 16 nm 1.5 (P100 boost 1.48 GHz, TSMC 16FF+), 45 nm 1.0, older nodes slower.
NOMINAL_CLOCK_GHZ: dict[float, float] = {
    130: 0.5,
    90: 0.7,
    65: 0.8,
    45: 1.0,
    32: 1.2,
    20: 1.4,
    16: 1.5,
    14: 1.6,
    10: 1.8,
    7: 2.0,
}


def _node(node_nm: float) -> None:
    if node_nm not in NOMINAL_CLOCK_GHZ:
        raise SpecError(
            f"technology node {node_nm:g} nm has no scaling data; allowed: "
            + ", ".join(f"{n:g}" for n in KNOWN_NODES_NM)
        )


def min_vdd_v(node_nm: float) -> float:
    """Lowest supply the models cover at ``node_nm`` (V): ``Vt + VT_MARGIN_V``, or higher where the
    node's energy polynomial stops falling with ``V`` (its vertex ``−b / 2a``: below it the fit
    would say a lower supply costs more energy, outside the range it was fitted on)."""
    a, b, _ = energy_polynomial(node_nm)
    return max(VT_V + VT_MARGIN_V, -b / (2.0 * a))


def _drive(vdd_v: float) -> float:
    """``(V − Vt)^α / V``: the alpha-power law's speed (inverse gate delay) up to a constant."""
    return float((vdd_v - VT_V) ** ALPHA / vdd_v)


def max_clock_ghz(node_nm: float, vdd_v: float | None = None) -> float:
    """Fastest clock at ``node_nm`` and ``vdd_v`` (GHz): ``NOMINAL_CLOCK_GHZ`` scaled by the
    alpha-power law's speed ratio to the node's nominal supply; ``None`` = nominal."""
    _node(node_nm)
    f_nom = NOMINAL_CLOCK_GHZ[node_nm]
    if vdd_v is None:
        return f_nom
    return f_nom * _drive(vdd_v) / _drive(NOMINAL_VDD_V[node_nm])


def clock_scale(node_nm: float, vdd_v: float) -> float:
    """``f_max(vdd) / f_max(nominal)`` at ``node_nm``: how a design's clock scales with its supply."""
    _node(node_nm)
    return _drive(vdd_v) / _drive(NOMINAL_VDD_V[node_nm])


def leakage_voltage_factor(node_nm: float, vdd_v: float | None = None) -> float:
    """Leakage power at ``vdd_v`` over leakage at the node's nominal supply: ``V / V_nom``
    (constant leakage current, no DIBL: assumption, see the module doc); 1 for ``None``."""
    _node(node_nm)
    return 1.0 if vdd_v is None else vdd_v / NOMINAL_VDD_V[node_nm]


__all__ = [
    "ALPHA",
    "NOMINAL_CLOCK_GHZ",
    "VT_MARGIN_V",
    "VT_V",
    "clock_scale",
    "leakage_voltage_factor",
    "max_clock_ghz",
    "min_vdd_v",
]
