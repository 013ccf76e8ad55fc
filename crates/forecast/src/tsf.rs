//! Reading the Monash time-series archive's `.tsf` text format, in which public forecasting
//! benchmarks (car parts among them) are published.
//!
//! `#` lines are comments, `@` lines are headers, and after `@data` each line holds the
//! declared attributes and then the values, separated by `:`; values are separated by `,` and
//! `?` marks a missing one.

use thiserror::Error;

/// A parsed `.tsf` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub relation: Option<String>,
    /// As written, e.g. `monthly`, `daily`.
    pub frequency: Option<String>,
    /// The forecast horizon the archive suggests, when given.
    pub horizon: Option<usize>,
    /// Attribute names in declaration order.
    pub attributes: Vec<String>,
    pub series: Vec<NamedSeries>,
}

/// One series and its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedSeries {
    /// The `series_name` attribute, or the first attribute when there is none by that name.
    pub name: String,
    /// The `start_timestamp` attribute as written, when declared.
    pub start: Option<String>,
    /// Attribute values in declaration order, as written.
    pub attributes: Vec<String>,
    /// `None` where the file has `?`.
    pub values: Vec<Option<f64>>,
}

impl Dataset {
    /// The period its `@frequency` names (daily, weekly, monthly or quarterly), monthly when it
    /// names none; `None` for a frequency Ordo does not forecast (yearly, hourly …).
    pub fn period(&self) -> Option<crate::Period> {
        match self.frequency.as_deref() {
            Some("daily") => Some(crate::Period::Day),
            Some("weekly") => Some(crate::Period::Week),
            Some("monthly") | None => Some(crate::Period::Month),
            Some("quarterly") => Some(crate::Period::Quarter),
            Some(_) => None,
        }
    }
}

impl NamedSeries {
    /// The values when none is missing.
    pub fn complete(&self) -> Option<Vec<f64>> {
        self.values.iter().copied().collect()
    }
}

/// A `.tsf` file that cannot be read, with the 1-based line at fault.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("line {line}: {problem}")]
pub struct TsfError {
    pub line: usize,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Problem {
    #[error("unknown header `{0}`")]
    UnknownHeader(String),
    #[error("header `{0}` has no value")]
    EmptyHeader(String),
    #[error("`{0}` is not a whole number")]
    NotAWholeNumber(String),
    #[error("header after @data")]
    HeaderAfterData,
    #[error("series before @data")]
    DataBeforeHeader,
    #[error("no @attribute declared before @data")]
    NoAttributes,
    #[error("expected {expected} `:`-separated attribute fields before the values, found {found}")]
    AttributeCount { expected: usize, found: usize },
    #[error("value {position} `{text}` is not a number")]
    NotANumber { position: usize, text: String },
    #[error("value {position} is missing but the file declares @missing false")]
    MissingNotAllowed { position: usize },
    #[error("series has no values")]
    EmptySeries,
    #[error("series has {found} values, the first had {expected}, and the file declares @equallength true")]
    UnequalLength { expected: usize, found: usize },
    #[error("no @data section")]
    NoData,
}

/// Parses a whole `.tsf` text.
pub fn parse(text: &str) -> Result<Dataset, TsfError> {
    let mut dataset = Dataset { relation: None, frequency: None, horizon: None, attributes: Vec::new(), series: Vec::new() };
    let mut missing_allowed = true;
    let mut equal_length = false;
    let mut in_data = false;

    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |problem| TsfError { line, problem };
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(header) = content.strip_prefix('@') {
            if in_data {
                return Err(fail(Problem::HeaderAfterData));
            }
            let (key, value) = header.split_once(char::is_whitespace).map_or((header, ""), |(k, v)| (k, v.trim()));
            let key = key.to_ascii_lowercase();
            let needs_value = || if value.is_empty() { Err(fail(Problem::EmptyHeader(key.clone()))) } else { Ok(value) };
            match key.as_str() {
                "data" => {
                    if dataset.attributes.is_empty() {
                        return Err(fail(Problem::NoAttributes));
                    }
                    in_data = true;
                }
                "relation" => dataset.relation = Some(needs_value()?.to_owned()),
                "attribute" => {
                    let name = needs_value()?.split_whitespace().next().unwrap_or_default();
                    dataset.attributes.push(name.to_owned());
                }
                "frequency" => dataset.frequency = Some(needs_value()?.to_owned()),
                "horizon" => {
                    let value = needs_value()?;
                    let horizon = value.parse().map_err(|_| fail(Problem::NotAWholeNumber(value.to_owned())))?;
                    dataset.horizon = Some(horizon);
                }
                "missing" => missing_allowed = needs_value()?.eq_ignore_ascii_case("true"),
                "equallength" => equal_length = needs_value()?.eq_ignore_ascii_case("true"),
                _ => return Err(fail(Problem::UnknownHeader(key))),
            }
            continue;
        }
        if !in_data {
            return Err(fail(Problem::DataBeforeHeader));
        }

        let expected = dataset.attributes.len();
        let fields: Vec<&str> = content.splitn(expected + 1, ':').collect();
        if fields.len() != expected + 1 {
            return Err(fail(Problem::AttributeCount { expected, found: fields.len().saturating_sub(1) }));
        }
        let (attributes, values_text) = fields.split_at(expected);
        let values_text = values_text.first().map_or("", |text| text.trim());
        if values_text.is_empty() {
            return Err(fail(Problem::EmptySeries));
        }
        let mut values = Vec::new();
        for (position, text) in values_text.split(',').map(str::trim).enumerate() {
            let position = position + 1;
            if text == "?" {
                if !missing_allowed {
                    return Err(fail(Problem::MissingNotAllowed { position }));
                }
                values.push(None);
            } else {
                let value = text.parse::<f64>().ok().filter(|value| value.is_finite());
                let value = value.ok_or_else(|| fail(Problem::NotANumber { position, text: text.to_owned() }))?;
                values.push(Some(value));
            }
        }
        if let Some(first) = dataset.series.first()
            && equal_length
            && first.values.len() != values.len()
        {
            return Err(fail(Problem::UnequalLength { expected: first.values.len(), found: values.len() }));
        }
        let attributes: Vec<String> = attributes.iter().map(|field| field.trim().to_owned()).collect();
        let named = |wanted: &str| dataset.attributes.iter().position(|name| name == wanted).map(|at| attributes[at].clone());
        let name = named("series_name").or_else(|| attributes.first().cloned()).unwrap_or_default();
        let start = named("start_timestamp");
        dataset.series.push(NamedSeries { name, start, attributes, values });
    }

    if !in_data {
        return Err(TsfError { line: text.lines().count().max(1), problem: Problem::NoData });
    }
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "# a comment\n@relation Demo\n@attribute series_name string\n@attribute start_timestamp date\n@frequency monthly\n@horizon 12\n@missing true\n@equallength false\n@data\n";

    #[test]
    fn reads_headers_names_and_values() {
        let text = format!("{HEADER}T1:1998-01-01 00-00-00:0,2,1.5\nT2:1998-02-01 00-00-00:?,4\n");
        let dataset = parse(&text).unwrap();
        assert_eq!(dataset.relation.as_deref(), Some("Demo"));
        assert_eq!(dataset.frequency.as_deref(), Some("monthly"));
        assert_eq!(dataset.period(), Some(crate::Period::Month));
        let quarterly = parse(&HEADER.replace("monthly", "quarterly")).unwrap();
        assert_eq!(quarterly.period(), Some(crate::Period::Quarter));
        assert_eq!(parse(&HEADER.replace("monthly", "yearly")).unwrap().period(), None);
        assert_eq!(dataset.horizon, Some(12));
        assert_eq!(dataset.attributes, vec!["series_name", "start_timestamp"]);
        assert_eq!(dataset.series[0].name, "T1");
        assert_eq!(dataset.series[0].start.as_deref(), Some("1998-01-01 00-00-00"));
        assert_eq!(dataset.series[0].complete(), Some(vec![0.0, 2.0, 1.5]));
        assert_eq!(dataset.series[1].values, vec![None, Some(4.0)]);
        assert_eq!(dataset.series[1].complete(), None);
    }

    fn problem_at(text: &str) -> (usize, Problem) {
        let error = parse(text).unwrap_err();
        (error.line, error.problem)
    }

    #[test]
    fn errors_name_the_line() {
        let data_line = HEADER.lines().count() + 2;
        let bad_value = format!("{HEADER}T1:1998-01-01 00-00-00:1,2\nT2:1998-01-01 00-00-00:1,x,3\n");
        assert_eq!(problem_at(&bad_value), (data_line, Problem::NotANumber { position: 2, text: "x".into() }));
        let error = parse(&bad_value).unwrap_err();
        assert_eq!(error.to_string(), format!("line {data_line}: value 2 `x` is not a number"));

        let few_fields = format!("{HEADER}T1:1,2\n");
        assert_eq!(problem_at(&few_fields), (data_line - 1, Problem::AttributeCount { expected: 2, found: 1 }));

        let empty = format!("{HEADER}T1:1998-01-01 00-00-00:\n");
        assert_eq!(problem_at(&empty), (data_line - 1, Problem::EmptySeries));

        let strict = HEADER.replace("@missing true", "@missing false").replace("@equallength false", "@equallength true");
        assert_eq!(problem_at(&format!("{strict}T1:s:1,?\n")), (data_line - 1, Problem::MissingNotAllowed { position: 2 }));
        assert_eq!(
            problem_at(&format!("{strict}T1:s:1,2\nT2:s:1\n")),
            (data_line, Problem::UnequalLength { expected: 2, found: 1 })
        );

        assert_eq!(problem_at("@relation x\n@colour blue\n"), (2, Problem::UnknownHeader("colour".into())));
        assert_eq!(problem_at("@relation x\n@data\n"), (2, Problem::NoAttributes));
        assert_eq!(problem_at("@attribute name string\nT1:1,2\n"), (2, Problem::DataBeforeHeader));
        assert_eq!(problem_at("@attribute name string\n@horizon soon\n"), (2, Problem::NotAWholeNumber("soon".into())));
        assert_eq!(problem_at(&format!("{HEADER}T1:s:1\n@horizon 3\n")), (data_line, Problem::HeaderAfterData));
        assert_eq!(problem_at("# nothing\n@attribute name string\n"), (2, Problem::NoData));
    }
}
