#!/usr/bin/env python3
"""Draws aggregate operations per second versus threads, one line per library,
for the counter_inc and histogram_observe groups, as a dependency-free SVG.

Usage: python3 benches/plot.py criterion.json out.svg

criterion.json comes from `benches/report.py --json`. Each point is
1e9 / (aggregate median ns/op); whiskers span the [p25, p75] samples.
"""
import json
import sys

GROUPS = [("counter_inc", "counter inc"), ("histogram_observe", "histogram observe (12 buckets)")]
COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
          "#666666", "#1f78b4", "#b2df8a"]
W, H = 520, 380
ML, MR, MT, MB = 70, 190, 40, 50


def nice_max(v):
    for m in [1, 2, 2.5, 5, 10]:
        mag = 10 ** len(str(int(v))) / 10
        if v <= m * mag:
            return m * mag
    return v


def panel(rows, group, title, ox):
    rs = [r for r in rows if r["group"] == group]
    if not rs:
        return ""
    threads = sorted({int(r["param"]) for r in rs})
    libs = sorted({r["function"] for r in rs}, key=lambda f: (f != "nanometrics", f))
    ymax = nice_max(max(1e9 / r["p25_ns"] for r in rs) / 1e6)  # Mops/s
    ymax = max(ymax, nice_max(2 * max(1e3 / r["median_ns"] for r in rs if r["function"] == "nanometrics")))
    pw, ph = W - ML - MR, H - MT - MB

    def x(t):
        if len(threads) == 1:
            return ox + ML + pw / 2
        return ox + ML + pw * (threads.index(t)) / (len(threads) - 1)

    def y(mops):
        return MT + ph * (1 - mops / ymax)

    out = [f'<text x="{ox + ML + pw / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    out.append(f'<rect x="{ox + ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for k in range(6):
        v = ymax * k / 5
        out.append(f'<line x1="{ox + ML - 4}" x2="{ox + ML + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{ox + ML - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{v:g}</text>')
    for t in threads:
        out.append(f'<text x="{x(t):.1f}" y="{MT + ph + 18}" text-anchor="middle" font-size="11">{t}</text>')
    out.append(f'<text x="{ox + ML + pw / 2}" y="{H - 12}" text-anchor="middle" font-size="12">threads on one metric</text>')
    out.append(f'<text x="{ox + 16}" y="{MT + ph / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {ox + 16} {MT + ph / 2})">million ops/s (aggregate)</text>')
    # Linear scaling from nanometrics' 1-thread figure, for reference.
    base = [r for r in rs if r["function"] == "nanometrics" and int(r["param"]) == threads[0]]
    if base and len(threads) > 1:
        b = 1e3 / base[0]["median_ns"]
        pts = " ".join(f"{x(t):.1f},{y(min(b * t / threads[0], ymax)):.1f}" for t in threads)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1b9e77" stroke-dasharray="5,4"/>')
        ly = MT + 14 + 16 * len(libs)
        out.append(f'<line x1="{ox + ML + pw + 12}" x2="{ox + ML + pw + 30}" y1="{ly - 4}" y2="{ly - 4}" stroke="#1b9e77" stroke-dasharray="5,4"/>')
        out.append(f'<text x="{ox + ML + pw + 34}" y="{ly}" font-size="11">linear from nanometrics</text>')
    for i, lib in enumerate(libs):
        color = COLORS[i % len(COLORS)]
        pts = sorted((int(r["param"]), r) for r in rs if r["function"] == lib)
        width = 3 if lib == "nanometrics" else 1.5
        path = " ".join(f"{x(t):.1f},{y(1e3 / r['median_ns']):.1f}" for t, r in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}"/>')
        for t, r in pts:
            lo, hi = 1e3 / r["p75_ns"], 1e3 / r["p25_ns"]
            out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" stroke="{color}"/>')
            out.append(f'<circle cx="{x(t):.1f}" cy="{y(1e3 / r["median_ns"]):.1f}" r="3" fill="{color}"/>')
        ly = MT + 14 + 16 * i
        out.append(f'<line x1="{ox + ML + pw + 12}" x2="{ox + ML + pw + 30}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" stroke-width="{width}"/>')
        out.append(f'<text x="{ox + ML + pw + 34}" y="{ly}" font-size="11">{lib}</text>')
    return "\n".join(out)


def main(src, dst):
    with open(src) as f:
        rows = json.load(f)
    parts = [panel(rows, g, t, i * W) for i, (g, t) in enumerate(GROUPS)]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W * len(GROUPS)}" height="{H}" '
           f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
           + "\n".join(parts) + "\n</svg>\n")
    with open(dst, "w") as f:
        f.write(svg)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
