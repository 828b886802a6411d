"""Bar chart of the start-up and per-call figures of bench/run.sh.

    python3 bench/chart.py CHART.TSV OUT.PNG

CHART.TSV has one line per bar: panel title, bar label, value (a median).
Each panel is drawn on its own scale, bars in the order given, the first
(the baseline) in grey, with the value and the ratio to the baseline
written above every bar.
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

COLORS = {
    "socks5wrap": "#1f77b4",
    "socks5wrap launcher": "#1f77b4",
    "LD_PRELOAD only": "#6baed6",
    "proxychains4": "#ff7f0e",
}


def read(path):
    panels = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[2] == "":
                continue
            panels.setdefault(parts[0], []).append((parts[1], float(parts[2])))
    return panels


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py CHART.TSV OUT.PNG")
    panels = read(sys.argv[1])
    if not panels:
        sys.exit("chart.py: no data in " + sys.argv[1])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2))
    if len(panels) == 1:
        axes = [axes]
    for ax, (title, bars) in zip(axes, panels.items()):
        labels = [b[0] for b in bars]
        values = [b[1] for b in bars]
        colors = ["#9e9e9e"] + [COLORS.get(lab, "#1f77b4") for lab in labels[1:]]
        ax.bar(range(len(bars)), values, color=colors)
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, max(values) * 1.22)
        for i, v in enumerate(values):
            text = f"{v:.0f}" if i == 0 else f"{v:.0f}\n{v / values[0]:.2f}x"
            ax.text(i, v, text, ha="center", va="bottom", fontsize=8)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
    fig.suptitle("socks5wrap: medians, lower is better "
                 "(ratio to the grey baseline)", fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
