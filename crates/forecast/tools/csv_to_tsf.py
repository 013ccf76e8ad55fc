"""Turns `series,date,quantity` rows into a .tsf file summed as `ordo forecast evaluate --csv`
sums them: by day, or by week from Monday; each series from its first period to the file's
last, periods without rows zero, a period whose returns outweigh its sales zero. Scoring the
result with `ordo forecast evaluate --tsf` gives the same figures as the CSV.

    python3 csv_to_tsf.py FILE.csv day|week OUT.tsf
"""
import csv
import datetime
import sys

path, period, out = sys.argv[1], sys.argv[2], sys.argv[3]


def index(day):
    ordinal = day.toordinal()  # 0001-01-01, a Monday, is 1
    return ordinal if period == "day" else (ordinal - 1) // 7


sums, last = {}, None
for row in csv.DictReader(open(path)):
    at = index(datetime.date.fromisoformat(row["date"][:10]))
    last = at if last is None else max(last, at)
    periods = sums.setdefault(row["series"], {})
    periods[at] = periods.get(at, 0) + int(row["quantity"])
with open(out, "w") as f:
    f.write(f"@relation series\n@attribute series_name string\n@frequency {'daily' if period == 'day' else 'weekly'}\n@data\n")
    for name in sorted(sums):
        periods = sums[name]
        values = (max(periods.get(at, 0), 0) for at in range(min(periods), last + 1))
        f.write(name.replace(":", "_") + ":" + ",".join(map(str, values)) + "\n")
