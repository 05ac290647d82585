"""What every HTML report shares: a self-contained page, figures, and axes labelled with units.

A report is one HTML file that works alone and offline: plotly.js (about 4.8 MB, the one of the
installed plotly) is inlined in the page rather than copied beside it, so a report moved,
mailed or archived on its own still draws its charts; if the script cannot run the page says
so in red instead of showing empty boxes. Figure ids are fixed and nothing reads the clock, so
the same inputs give the same bytes.

Ticks are chosen here, not by plotly, so every label carries an SI prefix and its unit
("100 mJ", "20 µs", "64 KiB"): decades on log axes spanning three or more (1-2-5 steps on
shorter ones, plain steps below that), never plotly's unlabelled minor digits, and the same
steps on a second y axis as on the first.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

#: Units printed without an SI prefix: a prefix on a squared or logarithmic unit misleads.
PLAIN_UNITS = frozenset({"mm²", "%", "dB", "GHz"})
_PREFIXES: tuple[tuple[float, str], ...] = (
    *((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m")),
    *((1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a")),
)
_BINARY: tuple[tuple[float, str], ...] = ((1024.0**3, "GiB"), (1024.0**2, "MiB"), (1024.0, "KiB"), (1.0, "B"))


def _mantissa(x: float, digits: int) -> str:
    """``x`` (|x| < 1000 after prefixing) to ``digits`` significant digits, never in e-notation."""
    whole = int(math.floor(math.log10(abs(x)))) + 1 if x else 1
    return f"{x:.{max(digits, whole, 1)}g}"


def si(x: float | None, unit: str = "", digits: int = 3) -> str:
    """``x`` with an SI prefix and ``unit``: ``si(1.2e-5, "J")`` is ``"12 µJ"``; bytes are binary."""
    if x is None or not math.isfinite(x):
        return "-"
    if x == 0:
        return f"0 {unit}".rstrip()
    x = float(f"{x:.{digits}g}")  # round first, so 999.96 becomes "1 k", not "1e+03"
    if unit in PLAIN_UNITS or (unit == "" and abs(x) < 1000):  # "0.5", not "500 m"
        return f"{_mantissa(x, digits)} {unit}".rstrip()
    if abs(x) < _PREFIXES[-1][0]:
        return f"{x:.{digits}g} {unit}"
    table = _BINARY if unit == "B" else _PREFIXES
    scale, prefix = next(((s, p) for s, p in table if abs(x) >= s), table[-1])
    name = prefix if unit == "B" else prefix + unit
    return f"{_mantissa(x / scale, digits)} {name}".rstrip()


def column_unit(name: str) -> str:
    """The unit of a metric or axis from its name (``energy_j_per_image`` -> ``J``); "" if none."""
    for marker, unit in (("edp_j_s", "J·s"), ("_j_per", "J"), ("_s_per", "s"), ("_mm2", "mm²")):
        if marker in name:
            return unit
    for suffix, unit in (("_bytes", "B"), ("_j", "J"), ("_s", "s"), ("_ghz", "GHz"), ("_pct", "%"), ("_db", "dB")):
        if name.endswith(suffix):
            return unit
    return ""


def _clean(x: float) -> float:
    return float(f"{x:.12g}")  # 3 * 0.1 is 0.30000000000000004; a tick is 0.3


def _linear_ticks(lo: float, hi: float) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / 5
    mag = 10.0 ** math.floor(math.log10(raw))
    step = mag * next(m for m in (1, 2, 5, 10) if m * mag >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [_clean(k * step) for k in range(first, last + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if math.log10(hi / lo) >= 3:  # three or more decades: label decades only
        every = math.ceil((d1 - d0) / 8)  # at most ~8 labelled decades
        return [_clean(10.0**d) for d in range(d0, d1 + 1, every)]
    cands = [_clean(m * 10.0**d) for d in range(d0, d1 + 1) for m in (1, 2, 5)]
    start = max(i for i, c in enumerate(cands) if c <= lo)  # 10**d0 <= lo: there is one
    end = min(i for i, c in enumerate(cands) if c >= hi)  # 10**d1 >= hi: there is one
    return cands[start : end + 1]


def tick_values(values: Iterable[float | None], log: bool = False) -> list[float]:
    """Round tick positions covering ``values`` (one step beyond each end; plotly hides those)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        return []
    lo, hi = min(finite), max(finite)
    if log:
        ticks = _log_ticks(lo, hi)
        if sum(lo <= t <= hi for t in ticks) >= 2:
            return ticks
    return _linear_ticks(lo, hi)


def tick_digits(ticks: Sequence[float]) -> int:
    """Significant digits that tell neighbouring ticks apart (``6.85 µ`` next to ``6.9 µ``)."""
    if len(ticks) < 2:
        return 3
    step = min(abs(b - a) for a, b in zip(ticks, ticks[1:], strict=False) if b != a)
    top = max(abs(t) for t in ticks)
    return max(1, math.floor(math.log10(top)) - math.floor(math.log10(step)) + 1)


def tick_labels(ticks: Sequence[float], unit: str) -> list[str]:
    digits = tick_digits(ticks)
    return [si(t, unit, digits) for t in ticks]


def axis(title: str, values: Iterable[float | None], unit: str, log: bool = False) -> dict[str, Any]:
    """A plotly axis (``xaxis=``, ``yaxis=``) over ``values`` with SI-labelled ticks in ``unit``."""
    ticks = tick_values(values, log)
    out: dict[str, Any] = {"title": {"text": title}, "type": "log" if log else "linear"}
    if ticks:
        out.update(tickmode="array", tickvals=ticks, ticktext=tick_labels(ticks, unit))
    return out


def figure_div(fig: Any, div_id: str) -> str:
    """A plotly figure as a ``<div>`` with a fixed id (plotly.js itself is in the page head)."""
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False}))


def html_table(head: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Iterable[int] = ()) -> str:
    """An HTML table that scrolls sideways instead of widening the page; ``numeric`` columns align right."""
    right = set(numeric)

    def cells(tag: str, row: Sequence[Any]) -> str:
        return "".join(
            f"<{tag}{' class=num' if i in right else ''}>{html.escape(str(c))}</{tag}>" for i, c in enumerate(row)
        )

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<div class=scroll><table><thead><tr>{cells('th', head)}</tr></thead><tbody>{body}</tbody></table></div>"


STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}
.warn{color:#a40} .error{color:#b00;font-weight:bold}
pre{background:#f6f6f6;padding:1em;overflow-x:auto}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px} td,th{padding:2px 8px;text-align:left;white-space:nowrap}
th{background:#eee} tr:nth-child(even) td{background:#fafafa} .num{text-align:right}"""

NO_PLOTLY = (
    "The charts of this report could not be drawn: its inlined plotly.js did not run "
    "(JavaScript disabled or blocked?). The tables and text are complete."
)


def page(title: str, body: str, style: str = "") -> str:
    """A whole report page: plotly.js inlined in the head, a visible note if it does not run."""
    from plotly.offline import get_plotlyjs

    t = html.escape(title)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{t}</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>{STYLE}{style}</style>
</head><body>
<noscript><p class="error">{NO_PLOTLY}</p></noscript>
<p class="error" id="pj-no-plotly" hidden>{NO_PLOTLY}</p>
<script>if (typeof Plotly === "undefined") document.getElementById("pj-no-plotly").hidden = false;</script>
<h1>{t}</h1>
{body}
</body></html>
"""
