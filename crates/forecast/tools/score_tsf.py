"""Scores forecasts written by auto_ets.R as `ordo forecast evaluate` scores its own: MASE and
RMSSE scaled by the in-sample one-step naive error from the first sale on, averaged over the
series that have a scale; bias over summed units.

    python3 score_tsf.py FILE.tsf OUT.csv HORIZON
"""
import math
import sys

tsf, out, horizon = sys.argv[1], sys.argv[2], int(sys.argv[3])
series = {}
for line in open(tsf).read().split("@data\n", 1)[1].strip().split("\n"):
    series[line.split(":", 1)[0]] = [float(x) for x in line.rsplit(":", 1)[1].split(",")]


def scale(history):
    first = next((i for i, x in enumerate(history) if x != 0), None)
    if first is None or len(history) - first < 2:
        return None
    steps = [b - a for a, b in zip(history[first:], history[first + 1:])]
    absolute = sum(abs(s) for s in steps) / len(steps)
    return (absolute, sum(s * s for s in steps) / len(steps)) if absolute > 0 else None


cards = {"ets": [0, 0.0, 0.0, 0.0, 0.0], "ses": [0, 0.0, 0.0, 0.0, 0.0]}
for line in open(out):
    name, *forecasts = line.strip().split(",")
    values = series[name]
    train, test = values[:-horizon], values[-horizon:]
    s = scale(train)
    if s is None:
        continue
    for method, text in zip(cards, forecasts):
        f = [0.0 if math.isnan(float(x)) else float(x) for x in text.split(";")]
        card = cards[method]
        card[0] += 1
        card[1] += sum(abs(a - b) for a, b in zip(test, f)) / horizon / s[0]
        card[2] += math.sqrt(sum((a - b) ** 2 for a, b in zip(test, f)) / horizon / s[1])
        card[3] += sum(test)
        card[4] += sum(f)
for method, (n, mase, rmsse, sold, expected) in cards.items():
    print(f"R {method}: {n} scored, MASE {mase / n:.3f}, RMSSE {rmsse / n:.4f}, bias {expected / sold - 1:+.3f}")
