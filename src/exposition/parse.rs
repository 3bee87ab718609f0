//! Text format 0.0.4 → model, strict like upstream's parser
//! (prometheus/common `expfmt/text_parse.go`): same acceptance, messages and
//! line numbers. It reads the body byte by byte in one pass and merges
//! summary/histogram lines through hash maps, so time is linear in the body.
//! It does not reject timestamps or check consistency: the push layer does.
//! Which family a sample belongs to and how its lines merge into series is
//! `parse/families.rs`; this file reads the bytes of each line.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

mod families;

use crate::exposition::gosyntax::{go_quote_byte, parse_go_float};
use crate::gofmt::quote;
use crate::model::{Label, MetricFamily, MetricType, NameValidation, Value};
use families::{settle_histogram_counts, FamilyState, Role};

/// A parse failure; displays as `text format parsing error in line N: msg`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "text format parsing error in line {}: {}",
            self.line, self.msg
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole text body into families, in order of first appearance.
/// Families left without samples (HELP/TYPE only) are dropped.
pub fn parse(body: &[u8], names: NameValidation) -> Result<Vec<MetricFamily>, ParseError> {
    let mut parser = Parser::new(body, names);
    match parser.run() {
        Ok(()) => Ok(parser.finish()),
        Err(Stop::Failed(e)) => Err(e),
        // Upstream's only message for input that ends mid-line.
        Err(Stop::Eof) => Err(ParseError {
            line: parser.line,
            msg: "unexpected end of input stream".to_string(),
        }),
    }
}

const QUANTILE_LABEL: &str = "quantile";
const BUCKET_LABEL: &str = "le";
const RESERVED_LABEL: &str = "__name__";
/// Past this many labels on one line, duplicates are found through a set
/// instead of a scan, so a hostile line cannot make the check quadratic.
const LINEAR_DUPLICATE_SCAN: usize = 8;

/// Why parsing stopped early.
enum Stop {
    /// The body ended where more bytes were required.
    Eof,
    Failed(ParseError),
}

type Step<T = ()> = Result<T, Stop>;

#[derive(Clone, Copy)]
enum NameKind {
    Metric,
    Label,
}

impl NameKind {
    fn starts(self, b: u8) -> bool {
        b.is_ascii_alphabetic() || b == b'_' || (matches!(self, NameKind::Metric) && b == b':')
    }

    fn continues(self, b: u8) -> bool {
        self.starts(b) || b.is_ascii_digit()
    }

    fn noun(self) -> &'static str {
        match self {
            NameKind::Metric => "metric",
            NameKind::Label => "label",
        }
    }
}

/// What one sample line has gathered before its value.
struct SampleLine {
    family: Option<usize>,
    labels: Vec<Label>,
    /// `quantile` (summaries) or `le` (histograms); NaN when absent, as
    /// upstream, so `quantile="NaN"` lines are ignored like there.
    bound: f64,
    /// Labels already checked for `quantile`/`le` against the family type.
    special_checked: usize,
    seen: HashSet<String>,
}

struct Parser<'a> {
    body: &'a [u8],
    /// Index of the next unread byte.
    pos: usize,
    /// The byte read last.
    cur: u8,
    line: usize,
    names: NameValidation,
    families: Vec<FamilyState>,
    by_name: HashMap<String, usize>,
    role: Role,
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8], names: NameValidation) -> Parser<'a> {
        Parser {
            body,
            pos: 0,
            cur: 0,
            line: 0,
            names,
            families: Vec::new(),
            by_name: HashMap::new(),
            role: Role::Plain,
        }
    }

    fn run(&mut self) -> Step {
        loop {
            self.line += 1;
            match self.skip_blank_tab() {
                // The only place where the body may end.
                Err(Stop::Eof) => return Ok(()),
                other => other?,
            }
            match self.cur {
                b'#' => self.comment_line()?,
                b'\n' => {}
                b'{' => self.sample_line(true)?,
                _ => self.sample_line(false)?,
            }
        }
    }

    fn finish(self) -> Vec<MetricFamily> {
        self.families
            .into_iter()
            .filter(|f| !f.family.metrics.is_empty())
            .map(|mut f| {
                for metric in &mut f.family.metrics {
                    if let Value::Histogram(h) = &mut metric.value {
                        settle_histogram_counts(h);
                    }
                }
                f.family
            })
            .collect()
    }

    // ---- bytes and tokens ----

    fn fail<T>(&self, msg: impl Into<String>) -> Step<T> {
        Err(Stop::Failed(ParseError {
            line: self.line,
            msg: msg.into(),
        }))
    }

    fn advance(&mut self) -> Step {
        match self.body.get(self.pos) {
            Some(&b) => {
                self.cur = b;
                self.pos += 1;
                Ok(())
            }
            None => Err(Stop::Eof),
        }
    }

    fn skip_blank_tab(&mut self) -> Step {
        loop {
            self.advance()?;
            if !is_blank(self.cur) {
                return Ok(());
            }
        }
    }

    fn skip_blank_tab_if_current_blank(&mut self) -> Step {
        if is_blank(self.cur) {
            self.skip_blank_tab()
        } else {
            Ok(())
        }
    }

    /// The bytes from the current one up to a blank, tab or newline.
    fn token_until_whitespace(&mut self) -> Step<&'a [u8]> {
        let start = self.pos - 1;
        while !is_blank(self.cur) && self.cur != b'\n' {
            self.advance()?;
        }
        Ok(&self.body[start..self.pos - 1])
    }

    /// The bytes from the current one up to the newline, unescaped.
    fn rest_of_line(&mut self) -> Step<&'a [u8]> {
        let start = self.pos - 1;
        while self.cur != b'\n' {
            self.advance()?;
        }
        Ok(&self.body[start..self.pos - 1])
    }

    /// The rest of a HELP line with `\\`, `\n` and `\"` unescaped.
    fn help_text(&mut self) -> Step<String> {
        let mut text = Vec::new();
        let mut escaped = false;
        loop {
            let b = self.cur;
            if escaped {
                text.push(self.unescape(b, true)?);
                escaped = false;
            } else {
                match b {
                    b'\n' => break,
                    b'\\' => escaped = true,
                    _ => text.push(b),
                }
            }
            self.advance()?;
        }
        // HELP is free text; upstream keeps any bytes, the model needs UTF-8.
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    fn unescape(&self, b: u8, quote_ok: bool) -> Step<u8> {
        match b {
            b'\\' => Ok(b'\\'),
            b'n' => Ok(b'\n'),
            b'"' if quote_ok => Ok(b'"'),
            _ => self.fail(format!("invalid escape sequence '\\{}'", char::from(b))),
        }
    }

    /// A metric or label name starting at the current byte: legacy
    /// characters, or a double-quoted string (which may be empty). `None`
    /// when the current byte cannot start a name. Leaves the byte after the
    /// name current.
    fn name_token(&mut self, kind: NameKind) -> Step<Option<Cow<'a, [u8]>>> {
        if self.cur == b'"' {
            return self.quoted_name(kind).map(|n| Some(Cow::Owned(n)));
        }
        if !kind.starts(self.cur) {
            return Ok(None);
        }
        let start = self.pos - 1;
        loop {
            self.advance()?;
            if !kind.continues(self.cur) {
                return Ok(Some(Cow::Borrowed(&self.body[start..self.pos - 1])));
            }
        }
    }

    fn quoted_name(&mut self, kind: NameKind) -> Step<Vec<u8>> {
        let mut name = Vec::new();
        loop {
            self.advance()?;
            match self.cur {
                b'"' => {
                    self.advance()?;
                    return Ok(name);
                }
                b'\n' => {
                    return self.fail(format!(
                        "{} name {} contains unescaped new-line",
                        kind.noun(),
                        quote(&name)
                    ))
                }
                b'\\' => {
                    self.advance()?;
                    name.push(self.unescape(self.cur, true)?);
                }
                b => name.push(b),
            }
        }
    }

    /// A quoted label value; the current byte is its opening quote and
    /// stays its closing quote.
    fn label_value(&mut self) -> Step<String> {
        let mut value = Vec::new();
        loop {
            self.advance()?;
            match self.cur {
                b'"' => break,
                b'\n' => {
                    return self.fail(format!(
                        "label value {} contains unescaped new-line",
                        quote(&value)
                    ))
                }
                b'\\' => {
                    self.advance()?;
                    value.push(self.unescape(self.cur, true)?);
                }
                b => value.push(b),
            }
        }
        match String::from_utf8(value) {
            Ok(v) => Ok(v),
            Err(e) => self.fail(format!("invalid label value {}", quote(e.as_bytes()))),
        }
    }

    // ---- comments ----

    fn comment_line(&mut self) -> Step {
        self.skip_blank_tab()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        let keyword = self.token_until_whitespace()?;
        // HELP/TYPE lines with missing fields are not errors, as upstream.
        if self.cur == b'\n' {
            return Ok(());
        }
        if keyword != b"HELP" && keyword != b"TYPE" {
            self.rest_of_line()?;
            return Ok(());
        }
        self.skip_blank_tab()?;
        let name = self.name_token(NameKind::Metric)?;
        if self.cur == b'\n' {
            return Ok(());
        }
        let Some(name) = name.filter(|_| is_blank(self.cur)) else {
            return self.fail("invalid metric name in comment");
        };
        let family = self.family_for(&name)?;
        self.skip_blank_tab()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        if keyword == b"HELP" {
            self.help_line(family)
        } else {
            self.type_line(family)
        }
    }

    fn help_line(&mut self, family: usize) -> Step {
        if self.families[family].family.help.is_some() {
            let name = quote(self.families[family].family.name.as_bytes());
            return self.fail(format!("second HELP line for metric name {name}"));
        }
        let help = self.help_text()?;
        self.families[family].family.help = Some(help);
        Ok(())
    }

    fn type_line(&mut self, family: usize) -> Step {
        if self.families[family].typed {
            let name = quote(self.families[family].family.name.as_bytes());
            return self.fail(format!(
                "second TYPE line for metric name {name}, or TYPE reported after samples"
            ));
        }
        let raw = self.rest_of_line()?;
        let Some(kind) = metric_type_from_text(raw) else {
            return self.fail(format!("unknown metric type {}", quote(raw)));
        };
        let state = &mut self.families[family];
        state.family.kind = kind;
        state.typed = true;
        Ok(())
    }

    // ---- samples ----

    fn sample_line(&mut self, in_braces: bool) -> Step {
        let mut line = SampleLine {
            family: None,
            labels: Vec::new(),
            bound: f64::NAN,
            special_checked: 0,
            seen: HashSet::new(),
        };
        if in_braces {
            self.label_set(&mut line, true)?;
            self.skip_blank_tab()?;
        } else {
            let Some(name) = self.name_token(NameKind::Metric)? else {
                return self.fail("invalid metric name");
            };
            line.family = Some(self.sample_family(&name)?);
            self.skip_blank_tab_if_current_blank()?;
            if self.cur == b'{' {
                self.label_set(&mut line, false)?;
                self.skip_blank_tab()?;
            }
        }
        let Some(family) = line.family else {
            return self.fail("invalid metric name");
        };
        self.drop_special_labels(&mut line);
        self.value_and_timestamp(family, line)
    }

    /// Reads `{...}` up to and including `}`. Inside a line that starts with
    /// `{`, a name without `=` is the (UTF-8) metric name.
    fn label_set(&mut self, line: &mut SampleLine, in_braces: bool) -> Step {
        loop {
            self.skip_blank_tab()?;
            if self.cur == b'}' {
                return Ok(());
            }
            let Some(token) = self.name_token(NameKind::Label)? else {
                let family = quote(self.family_name(line.family).as_bytes());
                return self.fail(format!("invalid label name for metric {family}"));
            };
            self.skip_blank_tab_if_current_blank()?;
            if self.cur != b'=' {
                if !in_braces {
                    let found = go_quote_byte(self.cur);
                    return self.fail(format!("expected '=' after label name, found {found}"));
                }
                if self.cur != b',' && self.cur != b'}' {
                    let found = go_quote_byte(self.cur);
                    return self.fail(format!("unexpected end of metric name {found}"));
                }
                self.metric_name_in_braces(line, &token)?;
                if self.cur == b'}' {
                    return Ok(());
                }
                continue;
            }
            self.label_pair(line, &token)?;
            self.skip_blank_tab()?;
            match self.cur {
                b',' => {}
                b'}' => return Ok(()),
                _ => {
                    let last = line.labels.last().map_or("", |l| l.value.as_str());
                    let last = quote(last.as_bytes());
                    return self.fail(format!("unexpected end of label value {last}"));
                }
            }
        }
    }

    fn metric_name_in_braces(&mut self, line: &mut SampleLine, token: &[u8]) -> Step {
        if let Some(first) = line.family {
            let first = quote(self.families[first].family.name.as_bytes());
            return self.fail(format!(
                "multiple metric names {first} and {}",
                quote(token)
            ));
        }
        line.family = Some(self.sample_family(token)?);
        // Labels read before the name could not be checked for quantile/le.
        self.check_special_labels(line)
    }

    /// Reads `="value"` after a label name, leaving the closing quote current.
    fn label_pair(&mut self, line: &mut SampleLine, token: &[u8]) -> Step {
        let name = match std::str::from_utf8(token) {
            Ok(n) => n,
            Err(_) => return self.fail(format!("invalid label name {}", quote(token))),
        };
        if name == RESERVED_LABEL {
            return self.fail(format!("label name {} is reserved", quote(name.as_bytes())));
        }
        if !self.names.label_name_ok(name) {
            return self.fail(format!("invalid label name {}", quote(token)));
        }
        if !self.is_special(line.family, name) && has_label(line, name) {
            let family = quote(self.family_name(line.family).as_bytes());
            return self.fail(format!("duplicate label names for metric {family}"));
        }
        self.skip_blank_tab()?;
        if self.cur != b'"' {
            let found = go_quote_byte(self.cur);
            return self.fail(format!(
                "expected '\"' at start of label value, found {found}"
            ));
        }
        let value = self.label_value()?;
        line.labels.push(Label::new(name, value));
        if line.family.is_some() {
            self.check_special_labels(line)?;
        }
        Ok(())
    }

    fn is_special(&self, family: Option<usize>, label: &str) -> bool {
        let Some(i) = family else { return false };
        let state = &self.families[i];
        (state.is_summary() && label == QUANTILE_LABEL)
            || (state.is_histogram() && label == BUCKET_LABEL)
    }

    /// Parses `quantile` (summaries) or `le` (histograms) labels not yet
    /// checked into `line.bound`; [`Self::drop_special_labels`] removes them.
    fn check_special_labels(&self, line: &mut SampleLine) -> Step {
        while line.special_checked < line.labels.len() {
            let label = &line.labels[line.special_checked];
            line.special_checked += 1;
            if !self.is_special(line.family, &label.name) {
                continue;
            }
            match parse_go_float(label.value.as_bytes()) {
                Some(v) => line.bound = v,
                None => {
                    return self.fail(format!(
                        "expected float as value for '{}' label, got {}",
                        label.name,
                        quote(label.value.as_bytes())
                    ))
                }
            }
        }
        Ok(())
    }

    /// `quantile`/`le` are not labels of the series but part of its value.
    fn drop_special_labels(&self, line: &mut SampleLine) {
        let family = line.family;
        let merged = |i: usize| self.families[i].is_histogram() || self.families[i].is_summary();
        if family.is_some_and(merged) {
            line.labels.retain(|l| !self.is_special(family, &l.name));
        }
    }

    fn value_and_timestamp(&mut self, family: usize, line: SampleLine) -> Step {
        let token = self.token_until_whitespace()?;
        let Some(value) = parse_go_float(token) else {
            return self.fail(format!("expected float as value, got {}", quote(token)));
        };
        let metric = self.record(family, line, value)?;
        if self.cur == b'\n' {
            return Ok(());
        }
        self.skip_blank_tab()?;
        let token = self.token_until_whitespace()?;
        let Some(timestamp) = std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
        else {
            return self.fail(format!(
                "expected integer as timestamp, got {}",
                quote(token)
            ));
        };
        self.families[family].family.metrics[metric].timestamp_ms = Some(timestamp);
        let rest = self.rest_of_line()?;
        if !rest.is_empty() {
            return self.fail(format!("spurious string after timestamp: {}", quote(rest)));
        }
        Ok(())
    }
}

fn has_label(line: &mut SampleLine, name: &str) -> bool {
    if line.labels.len() < LINEAR_DUPLICATE_SCAN {
        return line.labels.iter().any(|l| l.name == name);
    }
    if line.seen.is_empty() {
        line.seen.extend(line.labels.iter().map(|l| l.name.clone()));
    }
    !line.seen.insert(name.to_string())
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The type named on a TYPE line, in any ASCII case.
fn metric_type_from_text(raw: &[u8]) -> Option<MetricType> {
    let names: [(&[u8], MetricType); 7] = [
        (b"counter", MetricType::Counter),
        (b"gauge", MetricType::Gauge),
        (b"summary", MetricType::Summary),
        (b"untyped", MetricType::Untyped),
        (b"histogram", MetricType::Histogram),
        (b"gauge_histogram", MetricType::GaugeHistogram),
        (b"gaugehistogram", MetricType::GaugeHistogram),
    ];
    names
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(raw))
        .map(|&(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Counter, Histogram, Metric, Quantile, Summary};

    fn ok(body: &str) -> Vec<MetricFamily> {
        parse(body.as_bytes(), NameValidation::Legacy).expect("body parses")
    }

    fn ok_utf8(body: &str) -> Vec<MetricFamily> {
        parse(body.as_bytes(), NameValidation::Utf8).expect("body parses")
    }

    fn err(body: &[u8], names: NameValidation) -> String {
        match parse(body, names) {
            Ok(f) => panic!("{:?} parsed into {f:?}", String::from_utf8_lossy(body)),
            Err(e) => e.to_string(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    fn untyped(m: &Metric) -> f64 {
        match m.value {
            Value::Untyped(v) => v,
            ref other => panic!("not untyped: {other:?}"),
        }
    }

    fn histogram(m: &Metric) -> &Histogram {
        match &m.value {
            Value::Histogram(h) => h,
            other => panic!("not a histogram: {other:?}"),
        }
    }

    #[test]
    fn error_messages_and_lines() {
        let cases: &[(&[u8], &str)] = &[
            (b"a 1", "line 1: unexpected end of input stream"),
            (b"a 1\nb 2", "line 2: unexpected end of input stream"),
            (b"# a comment", "line 1: unexpected end of input stream"),
            (b"a 1\r\n", r#"line 1: expected float as value, got "1\r""#),
            (b"blablabla\n", r#"line 1: expected float as value, got """#),
            (
                b"a 1 \n",
                r#"line 1: expected integer as timestamp, got """#,
            ),
            (
                b"# HELP h1 x\n# HELP h1 y\nh1 1\n",
                r#"line 2: second HELP line for metric name "h1""#,
            ),
            (
                b"# TYPE h2 gauge\nh2 1\n# TYPE h2 gauge\n",
                r#"line 3: second TYPE line for metric name "h2", or TYPE reported after samples"#,
            ),
            (
                b"\nh3 1\n# TYPE h3 gauge\n",
                r#"line 3: second TYPE line for metric name "h3", or TYPE reported after samples"#,
            ),
            (b"# TYPE x foo\n", r#"line 1: unknown metric type "foo""#),
            (
                b"# TYPE x gauge \n",
                r#"line 1: unknown metric type "gauge ""#,
            ),
            (
                b"# TYPE met-ric counter\n",
                "line 1: invalid metric name in comment",
            ),
            (b"1a 1\n", "line 1: invalid metric name"),
            (b"{a=\"b\"} 1\n", "line 1: invalid metric name"),
            (
                b"{\"my.metric\"} 1\n",
                r#"line 1: invalid metric name "my.metric""#,
            ),
            (
                b"# HELP \"my.metric\" x\n",
                r#"line 1: invalid metric name "my.metric""#,
            ),
            (
                b"x{\"my.label\"=\"v\"} 1\n",
                r#"line 1: invalid label name "my.label""#,
            ),
            (
                b"x{@=\"b\"} 1\n",
                r#"line 1: invalid label name for metric "x""#,
            ),
            (
                b"x{__name__=\"y\"} 1\n",
                r#"line 1: label name "__name__" is reserved"#,
            ),
            (
                b"x{a=\"1\",a=\"2\"} 1\n",
                r#"line 1: duplicate label names for metric "x""#,
            ),
            (
                b"x{a=\"\xff\"} 1\n",
                r#"line 1: invalid label value "\xff""#,
            ),
            (b"x{a=\"\\t\"} 1\n", r"line 1: invalid escape sequence '\t'"),
            (b"# HELP x a\\tb\n", r"line 1: invalid escape sequence '\t'"),
            (
                b"x{a=\"new\nline\"} 1\n",
                r#"line 1: label value "new" contains unescaped new-line"#,
            ),
            (
                b"\n\nx{a=\"b\"+} 1\n",
                r#"line 3: unexpected end of label value "b""#,
            ),
            (
                b"x{a+=\"b\"} 1\n",
                "line 1: expected '=' after label name, found '+'",
            ),
            (
                b"x{a=b} 1\n",
                r#"line 1: expected '"' at start of label value, found 'b'"#,
            ),
            (
                b"x 1 2.5\n",
                r#"line 1: expected integer as timestamp, got "2.5""#,
            ),
            (
                b"x 1 2 3\n",
                r#"line 1: spurious string after timestamp: " 3""#,
            ),
            (
                b"# TYPE s summary\ns{quantile=\"x\"} 1\n",
                r#"line 2: expected float as value for 'quantile' label, got "x""#,
            ),
            (
                b"# TYPE h histogram\nh_bucket{le=\"0x1p-3\"} 1\n",
                r#"line 2: expected float as value for 'le' label, got "0x1p-3""#,
            ),
            (
                b"# TYPE h histogram\nh_count -1.5\n",
                r#"line 2: negative count for histogram "h""#,
            ),
            (
                b"# TYPE h histogram\nh_bucket{le=\"1\"} -2\n",
                r#"line 2: negative bucket population for histogram "h""#,
            ),
        ];
        for (body, want) in cases {
            let got = err(body, NameValidation::Legacy);
            let want = format!("text format parsing error in {want}");
            assert_eq!(got, want, "body {:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn values_outside_go_float_syntax_are_rejected() {
        for token in [
            "1_2", "0x1p-3", "0x1", "0X1", "0b1", "0o1", "+nan", "-NaN", "1e400", ".", "e5", "1e",
            "--1", "infin",
        ] {
            let got = err(format!("foo {token}\n").as_bytes(), NameValidation::Legacy);
            let want = format!(
                "text format parsing error in line 1: expected float as value, got {}",
                quote(token.as_bytes())
            );
            assert_eq!(got, want);
        }
    }

    #[test]
    fn case_19_two_untyped_families_in_order() {
        let fams =
            ok("some_metric 3.14\nanother_metric{instance=\"testinstance\",job=\"testjob\"} 42\n");
        let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["some_metric", "another_metric"]);
        assert!(fams
            .iter()
            .all(|f| f.kind == MetricType::Untyped && f.help.is_none()));
        assert_eq!(untyped(&fams[0].metrics[0]).to_string(), "3.14");
        let m = &fams[1].metrics[0];
        assert_eq!(
            m.labels,
            labels(&[("instance", "testinstance"), ("job", "testjob")])
        );
        assert_eq!(untyped(m), 42.0);
    }

    #[test]
    fn interleaved_samples_merge_and_mixed_dimensions_are_accepted() {
        let fams = ok("a 1\nb 2\na{x=\"2\"} 3\n");
        assert_eq!(fams.len(), 2);
        assert_eq!(fams[0].name, "a");
        assert_eq!(fams[0].metrics.len(), 2);
        assert_eq!(fams[0].metrics[1].labels, labels(&[("x", "2")]));
    }

    #[test]
    fn families_without_samples_are_dropped() {
        assert!(
            ok("# HELP x some help\n# TYPE y gauge\n# TYPE\n# HELP z\n# just a comment\n\n")
                .is_empty()
        );
    }

    #[test]
    fn empty_body_is_no_families() {
        assert!(ok("").is_empty());
        assert!(ok("  \t").is_empty());
    }

    #[test]
    fn types_in_any_case() {
        let fams = ok("# TYPE c COUNTER\nc 1\n# TYPE g Gauge\ng 2\n# TYPE u untyped\nu 3\n");
        assert_eq!(fams[0].kind, MetricType::Counter);
        assert_eq!(
            fams[0].metrics[0].value,
            Value::Counter(Counter {
                value: 1.0,
                ..Counter::default()
            })
        );
        assert_eq!(fams[1].metrics[0].value, Value::Gauge(2.0));
        assert_eq!(fams[2].metrics[0].value, Value::Untyped(3.0));
    }

    #[test]
    fn braces_whitespace_and_trailing_comma() {
        let fams = ok("x{} 1\ny{a=\"1\",} 2\n  z \t{ a = \"1\" , b=\"2\" }  3  4\n");
        assert_eq!(fams[0].metrics[0].labels, vec![]);
        assert_eq!(fams[1].metrics[0].labels, labels(&[("a", "1")]));
        let z = &fams[2].metrics[0];
        assert_eq!(z.labels, labels(&[("a", "1"), ("b", "2")]));
        assert_eq!((untyped(z), z.timestamp_ms), (3.0, Some(4)));
    }

    #[test]
    fn labels_keep_their_order() {
        let fams = ok("x{b=\"1\",a=\"2\"} 1\n");
        assert_eq!(fams[0].metrics[0].labels, labels(&[("b", "1"), ("a", "2")]));
    }

    #[test]
    fn timestamps_are_kept() {
        let fams = ok("a 1\nb 1 1000\nc 1 -5\n");
        let ts: Vec<Option<i64>> = fams.iter().map(|f| f.metrics[0].timestamp_ms).collect();
        assert_eq!(ts, [None, Some(1000), Some(-5)]);
    }

    #[test]
    fn special_values() {
        let fams = ok("a NaN\nb +Inf\nc -inf\nd Infinity\n");
        assert!(untyped(&fams[0].metrics[0]).is_nan());
        assert_eq!(untyped(&fams[1].metrics[0]), f64::INFINITY);
        assert_eq!(untyped(&fams[2].metrics[0]), f64::NEG_INFINITY);
        assert_eq!(untyped(&fams[3].metrics[0]), f64::INFINITY);
    }

    #[test]
    fn help_and_label_escapes() {
        let body = "# HELP x a\\\\b\\nc\\\"d \"e\"\nx{l=\"q\\\"b\\\\n\\nz\"} 1\n";
        let fams = ok(body);
        assert_eq!(fams[0].help.as_deref(), Some("a\\b\nc\"d \"e\""));
        assert_eq!(fams[0].metrics[0].labels, labels(&[("l", "q\"b\\n\nz")]));
    }

    #[test]
    fn summary_lines_merge_per_label_set() {
        let body = "# HELP s help\n# TYPE s summary\n\
            s{a=\"1\",quantile=\"0.5\"} 10\n\
            s{quantile=\"0.9\",a=\"1\"} 20\n\
            s_sum{a=\"1\"} 100\n\
            s_count{a=\"1\"} 7\n\
            s{a=\"2\",quantile=\"0.5\"} 1\n";
        let fams = ok(body);
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].kind, MetricType::Summary);
        assert_eq!(fams[0].metrics.len(), 2);
        let first = &fams[0].metrics[0];
        assert_eq!(first.labels, labels(&[("a", "1")]));
        let want = Summary {
            sample_count: 7,
            sample_sum: 100.0,
            quantiles: vec![
                Quantile {
                    quantile: 0.5,
                    value: 10.0,
                },
                Quantile {
                    quantile: 0.9,
                    value: 20.0,
                },
            ],
            created: None,
        };
        assert_eq!(first.value, Value::Summary(want));
    }

    #[test]
    fn suffixes_without_a_summary_type_are_own_families() {
        let fams = ok("s_sum 1\ns_count 2\n# TYPE s summary\n");
        let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["s_sum", "s_count"]);
    }

    #[test]
    fn histogram_lines_merge_with_integer_counts() {
        let body = "# TYPE h histogram\n\
            h_bucket{le=\"0.5\"} 3\n\
            h_bucket{le=\"+Inf\"} 17\n\
            h_sum 99.23\n\
            h_count 17\n\
            h_bucket{x=\"y\",le=\"1\"} 1\n";
        let fams = ok(body);
        assert_eq!(fams[0].metrics.len(), 2);
        let h = histogram(&fams[0].metrics[0]);
        assert_eq!(
            (h.sample_count, h.sample_count_float, h.sample_sum),
            (Some(17), None, Some(99.23))
        );
        let buckets: Vec<(f64, Option<u64>, Option<f64>)> = h
            .buckets
            .iter()
            .map(|b| (b.upper_bound, b.cumulative_count, b.cumulative_count_float))
            .collect();
        assert_eq!(
            buckets,
            [(0.5, Some(3), None), (f64::INFINITY, Some(17), None)]
        );
        assert_eq!(fams[0].metrics[1].labels, labels(&[("x", "y")]));
        let second = histogram(&fams[0].metrics[1]);
        assert_eq!(
            (second.sample_count, second.sample_sum),
            (Some(0), Some(0.0))
        );
    }

    #[test]
    fn a_fractional_count_makes_the_whole_histogram_float() {
        let fams = ok("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 2.5\nh_count 2.5\nh_sum 3\n");
        let h = histogram(&fams[0].metrics[0]);
        assert_eq!((h.sample_count, h.sample_count_float), (None, Some(2.5)));
        assert!(h.is_float());
        let counts: Vec<(Option<u64>, Option<f64>)> = h
            .buckets
            .iter()
            .map(|b| (b.cumulative_count, b.cumulative_count_float))
            .collect();
        assert_eq!(counts, [(None, Some(2.0)), (None, Some(2.5))]);
    }

    /// Found by fuzzing (fuzz/regressions/text_parse/nan_bucket_count): a NaN
    /// count was stored as a float count, which a scrape writes as `0`.
    #[test]
    fn nan_counts_become_go_uint64_and_round_trip() {
        use crate::exposition::render::render_family;
        use crate::exposition::NameEscaping;

        let fams = ok("#TYPE h histogram\nh{le=\"0\"}NaN\n");
        let h = histogram(&fams[0].metrics[0]);
        let bucket = &h.buckets[0];
        assert_eq!(
            (bucket.cumulative_count, bucket.cumulative_count_float),
            (Some(1 << 63), None)
        );
        let metrics: Vec<&Metric> = fams[0].metrics.iter().collect();
        let mut text = Vec::new();
        let (name, kind) = (&fams[0].name, fams[0].kind);
        render_family(
            &mut text,
            name,
            None,
            kind,
            &metrics,
            NameEscaping::Underscores,
        );
        let text = String::from_utf8(text).expect("rendered text is UTF-8");
        // Upstream Pushgateway scrapes the same push as this number.
        assert!(
            text.contains("h_bucket{le=\"0\"} 9.223372036854776e+18\n"),
            "{text}"
        );
        // The writer adds the `+Inf` bucket; the NaN one parses back equal.
        let again = ok(&text);
        assert_eq!(&histogram(&again[0].metrics[0]).buckets[0], bucket);

        let fams = ok("# TYPE s summary\ns_count NaN\ns_sum 1\n");
        match &fams[0].metrics[0].value {
            Value::Summary(s) => assert_eq!(s.sample_count, 1 << 63),
            other => panic!("not a summary: {other:?}"),
        }
    }

    #[test]
    fn gauge_histograms_in_both_spellings() {
        for spelling in ["gauge_histogram", "GAUGEHISTOGRAM"] {
            let fams = ok(&format!(
                "# TYPE g {spelling}\ng_bucket{{le=\"1\"}} 1\ng_count 1\n"
            ));
            assert_eq!(fams[0].kind, MetricType::GaugeHistogram);
            assert_eq!(histogram(&fams[0].metrics[0]).sample_count, Some(1));
        }
    }

    #[test]
    fn case_17_utf8_names() {
        let body = "# HELP \"my.metric\" help\n# TYPE \"my.metric\" gauge\n\
            {\"my.metric\",instance=\"i\",\"my.label\"=\"v\"} 1\n\
            {a=\"1\", \"other.metric\"} 2\n\
            {\"another.metric\",instance=\"testinstance\",job=\"testjob\",\"dotted.label.name\"=\"mylabelvalue\"} 42\n";
        let fams = ok_utf8(body);
        let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["my.metric", "other.metric", "another.metric"]);
        assert_eq!(
            (fams[0].kind, fams[0].help.as_deref()),
            (MetricType::Gauge, Some("help"))
        );
        assert_eq!(
            fams[0].metrics[0].labels,
            labels(&[("instance", "i"), ("my.label", "v")])
        );
        assert_eq!(fams[1].metrics[0].labels, labels(&[("a", "1")]));
        assert_eq!(fams[2].metrics[0].labels.len(), 3);
    }

    #[test]
    fn utf8_names_must_be_non_empty_utf8() {
        let cases: &[(&[u8], &str)] = &[
            (b"{\"\"} 1\n", r#"invalid metric name """#),
            (b"{\"a\xffb\"} 1\n", r#"invalid metric name "a\xffb""#),
            (b"x{\"\"=\"v\"} 1\n", r#"invalid label name """#),
            (
                b"{\"one.name\",\"another.name\"} 1\n",
                r#"multiple metric names "one.name" and "another.name""#,
            ),
            (
                b"{\"a.b\".x=\"1\"} 1\n",
                "unexpected end of metric name '.'",
            ),
        ];
        for (body, want) in cases {
            let got = err(body, NameValidation::Utf8);
            assert_eq!(got, format!("text format parsing error in line 1: {want}"));
        }
    }

    #[test]
    fn legacy_mode_accepts_quoted_legacy_names() {
        let fams = ok("{\"abc\",\"l\"=\"v\"} 1\n");
        assert_eq!(
            (fams[0].name.as_str(), fams[0].metrics[0].labels.clone()),
            ("abc", labels(&[("l", "v")]))
        );
    }

    #[test]
    fn utf8_summary_quantile_before_the_name() {
        let fams = ok_utf8("# TYPE \"s.x\" summary\n{quantile=\"0.5\",\"s.x\"} 3\n");
        let Value::Summary(s) = &fams[0].metrics[0].value else {
            panic!("not a summary")
        };
        assert_eq!(
            s.quantiles,
            [Quantile {
                quantile: 0.5,
                value: 3.0
            }]
        );
        assert!(fams[0].metrics[0].labels.is_empty());
    }

    #[test]
    fn series_merge_whatever_the_label_order() {
        let body = "# TYPE h histogram\nh_bucket{b=\"1\",a=\"2\",le=\"1\"} 1\nh_count{a=\"2\",b=\"1\"} 1\n";
        let fams = ok(body);
        assert_eq!(fams[0].metrics.len(), 1);
        assert_eq!(fams[0].metrics[0].labels, labels(&[("b", "1"), ("a", "2")]));
        let h = histogram(&fams[0].metrics[0]);
        assert_eq!((h.sample_count, h.buckets.len()), (Some(1), 1));
    }

    #[test]
    fn many_labels_still_find_duplicates() {
        let mut line = String::from("x{");
        for i in 0..50 {
            line.push_str(&format!("l{i}=\"v\","));
        }
        let body = format!("{line}l7=\"again\"}} 1\n");
        let got = err(body.as_bytes(), NameValidation::Legacy);
        assert_eq!(
            got,
            r#"text format parsing error in line 1: duplicate label names for metric "x""#
        );
        let fams = ok(&format!("{line}}} 1\n"));
        assert_eq!(fams[0].metrics[0].labels.len(), 50);
    }

    #[test]
    fn large_bodies_parse_in_one_pass() {
        let mut body = String::from("# TYPE h histogram\n");
        for i in 0..20_000 {
            body.push_str(&format!(
                "h_bucket{{i=\"{i}\",le=\"1\"}} 1\nh_count{{i=\"{i}\"}} 1\nu{{i=\"{i}\"}} 2\n"
            ));
        }
        let fams = ok(&body);
        assert_eq!(
            (fams[0].metrics.len(), fams[1].metrics.len()),
            (20_000, 20_000)
        );
    }
}
