//! Small charts drawn on the server as SVG: a trend line for a figure, and bars per day stacked
//! by channel. No script and nothing fetched: the page's content security policy holds.

use chrono::NaiveDate;

/// A trend line `WIDTH` × `HEIGHT`: the polyline's points and the last point, marked.
pub(crate) struct Spark {
    /// `x,y x,y …` for `<polyline points>`; empty when no day has a value.
    pub(crate) points: String,
    pub(crate) last: Option<(i64, i64)>,
    /// The lowest and highest value, as the figure is written, for the chart's label.
    pub(crate) label: String,
}

pub(crate) const SPARK_WIDTH: i64 = 150;
pub(crate) const SPARK_HEIGHT: i64 = 32;

/// A line through the days that have a value, scaled between the lowest and highest of them;
/// `show` writes a value as the figure does ("97.50 %", "12").
pub(crate) fn spark(values: &[Option<i64>], show: impl Fn(i64) -> String) -> Spark {
    let known: Vec<(usize, i64)> = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
    let (Some(low), Some(high)) = (known.iter().map(|(_, v)| *v).min(), known.iter().map(|(_, v)| *v).max()) else {
        return Spark { points: String::new(), last: None, label: "no data in the last 30 days".to_owned() };
    };
    let span = (high - low).max(1);
    let steps = i64::try_from(values.len().saturating_sub(1)).unwrap_or(1).max(1);
    let place = |i: usize, v: i64| {
        let x = i64::try_from(i).unwrap_or(0) * (SPARK_WIDTH - 4) / steps + 2;
        let y = SPARK_HEIGHT - 2 - (v - low).saturating_mul(SPARK_HEIGHT - 4) / span;
        (x, y)
    };
    let points: Vec<String> = known.iter().map(|(i, v)| place(*i, *v)).map(|(x, y)| format!("{x},{y}")).collect();
    let last = known.last().map(|(i, v)| place(*i, *v));
    Spark { points: points.join(" "), last, label: format!("from {} to {}", show(low), show(high)) }
}

/// One day's bar, stacked: each channel's segment from the bottom up.
pub(crate) struct DayBar {
    pub(crate) x: i64,
    pub(crate) segments: Vec<Segment>,
}

pub(crate) struct Segment {
    pub(crate) y: i64,
    pub(crate) height: i64,
    pub(crate) colour: &'static str,
    pub(crate) title: String,
}

/// Each series' colour in the chart and its legend.
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) colour: &'static str,
}

pub(crate) const BARS_WIDTH: i64 = 600;
pub(crate) const BARS_HEIGHT: i64 = 120;

/// Colours told apart by people with the common colour-vision deficiencies (Okabe–Ito).
const COLOURS: [&str; 7] = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"];

/// Bars per day, stacked by series (name, value per day), scaled to the tallest day; each
/// segment titled with its day, series and value as `show` writes it.
pub(crate) fn stacked_bars(days: &[NaiveDate], series: &[(String, Vec<i64>)], show: impl Fn(i64) -> String) -> (Vec<DayBar>, Vec<Key>) {
    let total = |i: usize| series.iter().map(|(_, values)| values.get(i).copied().unwrap_or(0).max(0)).sum::<i64>();
    let top = (0..days.len()).map(total).max().unwrap_or(0).max(1);
    let slot = BARS_WIDTH / i64::try_from(days.len().max(1)).unwrap_or(1);
    let keys = series.iter().enumerate().map(|(n, (name, _))| Key { name: name.clone(), colour: COLOURS[n % COLOURS.len()] }).collect();
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let mut bottom = BARS_HEIGHT;
            let segments = series
                .iter()
                .enumerate()
                .filter_map(|(n, (name, values))| {
                    let value = values.get(i).copied().unwrap_or(0).max(0);
                    let height = value * BARS_HEIGHT / top;
                    (value > 0).then(|| {
                        bottom -= height;
                        Segment { y: bottom, height: height.max(1), colour: COLOURS[n % COLOURS.len()], title: format!("{day} {name}: {}", show(value)) }
                    })
                })
                .collect();
            DayBar { x: i64::try_from(i).unwrap_or(0) * slot, segments }
        })
        .collect();
    (bars, keys)
}

/// One point of an anomaly's series: a bar as high as its value, the point found marked.
pub(crate) struct RateBar {
    pub(crate) x: i64,
    pub(crate) y: i64,
    pub(crate) height: i64,
    pub(crate) marked: bool,
    pub(crate) title: String,
}

pub(crate) const RATE_WIDTH: i64 = 600;
pub(crate) const RATE_HEIGHT: i64 = 100;

/// Bars of `(value, how it reads, marked)`, scaled from the lowest of zero and the values to
/// the highest, so a negative margin stands below a positive one.
pub(crate) fn value_bars(points: &[(i64, String, bool)]) -> Vec<RateBar> {
    let low = points.iter().map(|(v, ..)| *v).min().unwrap_or(0).min(0);
    let top = points.iter().map(|(v, ..)| *v).max().unwrap_or(0).max(low + 1);
    let count = i64::try_from(points.len()).unwrap_or(1).max(1);
    let width = (RATE_WIDTH / count).max(2);
    points
        .iter()
        .enumerate()
        .map(|(i, (value, shown, marked))| {
            let height = (i128::from(value - low) * i128::from(RATE_HEIGHT - 2) / i128::from(top - low)).max(1) as i64;
            RateBar { x: i64::try_from(i).unwrap_or(0) * width, y: RATE_HEIGHT - height, height, marked: *marked, title: shown.clone() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trend_line_spans_the_chart_and_skips_days_without_a_value() {
        let line = spark(&[Some(10), None, Some(30), Some(20)], |v| v.to_string());
        assert_eq!(line.points, format!("2,{} 99,2 148,{}", SPARK_HEIGHT - 2, SPARK_HEIGHT / 2));
        assert_eq!(line.last, Some((148, SPARK_HEIGHT / 2)));
        assert_eq!(line.label, "from 10 to 30");
        assert!(spark(&[None, None], |v| v.to_string()).points.is_empty());
        let flat = spark(&[Some(5), Some(5)], |v| v.to_string());
        assert_eq!(flat.points, format!("2,{y} 148,{y}", y = SPARK_HEIGHT - 2));
    }

    #[test]
    fn bars_stack_each_day_and_the_tallest_fills_the_chart() {
        let days: Vec<NaiveDate> = (1..=3).map(|d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap()).collect();
        let series = vec![("web".to_owned(), vec![1, 0, 3]), ("amazon".to_owned(), vec![1, 0, 1])];
        let (bars, keys) = stacked_bars(&days, &series, |v| format!("{v} orders"));
        assert_eq!(keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["web", "amazon"]);
        assert!(bars[1].segments.is_empty());
        let tallest = &bars[2].segments;
        assert_eq!((tallest[0].y, tallest[0].height), (BARS_HEIGHT / 4, BARS_HEIGHT * 3 / 4));
        assert_eq!((tallest[1].y, tallest[1].height), (0, BARS_HEIGHT / 4));
        assert_eq!(tallest[1].title, "2026-11-03 amazon: 1 orders");
    }

    #[test]
    fn value_bars_scale_from_the_lowest_to_the_highest_and_mark_the_one_found() {
        let points = vec![(100, "a".to_owned(), false), (400, "b".to_owned(), false), (-200, "c".to_owned(), true)];
        let bars = value_bars(&points);
        assert_eq!(bars.iter().map(|b| b.height).collect::<Vec<_>>(), [(300 * 98 / 600), 98, 1]);
        assert!(bars[2].marked && !bars[0].marked);
        assert_eq!(bars[1].title, "b");
        assert!(value_bars(&[]).is_empty());
    }
}
