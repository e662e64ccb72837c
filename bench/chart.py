#!/usr/bin/env python3
"""A line chart as standalone SVG, with the standard library only.

    chart.py INPUT.tsv OUTPUT.svg [--title T] [--ylabel L]

INPUT is tab-separated with a header: path, ports, value (one row per point; a value
of "err" or "n/a" is skipped). One line per path, value against the number of
published ports on a categorical x axis (1, 1000, 10000 are far apart on any scale).
"""
import argparse
import csv
import math
import sys
from xml.sax.saxutils import escape

COLOURS = {"direct": "#444444", "iptables": "#d62728", "proxy": "#ff7f0e", "bridgeport": "#1f77b4"}
OTHER_COLOURS = ["#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 80, 150, 50, 60


def read_points(path):
    series = {}
    with open(path, newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:3]] != ["path", "ports", "value"]:
            raise ValueError(f"{path}: the first line must be the header path<TAB>ports<TAB>value")
        for number, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != 3:
                raise ValueError(f"{path}:{number}: expected 3 tab-separated fields, got {len(row)}")
            name, ports, value = (field.strip() for field in row)
            if not ports.isdigit():
                raise ValueError(f"{path}:{number}: ports must be a whole number, not {ports!r}")
            if value in ("err", "n/a", ""):
                continue
            try:
                number_value = float(value)
            except ValueError:
                number_value = math.nan
            if not math.isfinite(number_value) or number_value < 0:
                raise ValueError(f"{path}:{number}: value must be a number ≥ 0, err or n/a, not {value!r}")
            points = series.setdefault(name, {})
            if int(ports) in points:
                raise ValueError(f"{path}:{number}: a second value for {name} at {ports} ports")
            points[int(ports)] = number_value
    return series


def nice_step(top):
    """A step of 1, 2 or 5 × 10^k giving about five ticks up to top."""
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def label(value):
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def render(series, title, ylabel):
    ports = sorted({p for points in series.values() for p in points})
    top = max((v for points in series.values() for v in points.values()), default=1.0) or 1.0
    step = nice_step(top * 1.05)
    ymax = step * math.ceil(top * 1.05 / step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(p):
        i = ports.index(p)
        return LEFT + (plot_w * (i + 0.5) / len(ports))

    def y(v):
        return TOP + plot_h * (1 - v / ymax)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>']
    tick = 0.0
    while tick <= ymax + step / 2:
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{label(tick)}</text>')
        tick += step
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="black"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="black"/>')
    for p in ports:
        out.append(f'<text x="{x(p):.1f}" y="{TOP + plot_h + 20}" text-anchor="middle">{p:,}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 15}" text-anchor="middle">published ports</text>')
    out.append(f'<text transform="translate(20 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{escape(ylabel)}</text>')
    spare = iter(OTHER_COLOURS)
    for i, (name, points) in enumerate(series.items()):
        colour = COLOURS.get(name) or next(spare, "#000000")
        coords = [(x(p), y(v)) for p, v in sorted(points.items())]
        # A missing point breaks the line: only neighbouring port counts are joined.
        runs, run = [], []
        for p in ports:
            if p in points:
                run.append((x(p), y(points[p])))
            else:
                runs, run = runs + [run], []
        for run in runs + [run]:
            if len(run) > 1:
                path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in run)
                out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for cx, cy in coords:
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}"/>')
        ly = TOP + 10 + 22 * i
        out.append(f'<line x1="{WIDTH - RIGHT + 20}" x2="{WIDTH - RIGHT + 45}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{WIDTH - RIGHT + 52}" y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description="Line chart (SVG) of value against published ports, one line per path.")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--title", default="")
    parser.add_argument("--ylabel", default="")
    args = parser.parse_args()
    try:
        series = read_points(args.input)
    except (OSError, ValueError) as error:
        print(f"chart.py: {error}", file=sys.stderr)
        return 2
    if not series:
        print(f"chart.py: {args.input} has no points", file=sys.stderr)
        return 2
    with open(args.output, "w") as f:
        f.write(render(series, args.title, args.ylabel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
