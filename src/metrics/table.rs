//! Metric families with one series per partition (or per group and partition), kept compact: a
//! row of numbers per label set, written straight to Prometheus' text format when scraped.
//!
//! Why not the `prometheus` crate's vectors: each of their series holds its own copy of the
//! family's description (name, help, label names) and its labels as protobuf pairs, about a
//! kibibyte. MirrorSource's sixteen families over 10,000 partitions came to more memory than a
//! flow's whole budget, and every scrape built all of them again as protobuf messages. Here a
//! row is its rendered labels and one 8-byte cell per family, and a scrape writes text.
//!
//! A row shows from its first [`Row::show`] until it is dropped (its task or group ends):
//! partitions that never carried a record cost nothing at scrape time.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// How a cell is kept and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer that only grows (`# TYPE counter`).
    Counter,
    /// A float (`# TYPE gauge`).
    Gauge,
    /// An integer gauge.
    IntGauge,
    /// Kept for the owner (a timestamp, say), never written.
    Hidden,
}

/// One family: a column of the table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub help: String,
    pub kind: Kind,
}

impl Column {
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: Kind) -> Self {
        Column {
            name: name.into(),
            help: help.into(),
            kind,
        }
    }
}

/// The families and their live rows.
pub struct Table {
    columns: Vec<Column>,
    /// The columns by name: the order the `prometheus` crate writes families in.
    by_name: Vec<usize>,
    label_names: Vec<&'static str>,
    rows: Mutex<Vec<Weak<Row>>>,
}

/// One label set's cells. Integers are kept as their bits, floats as `f64::to_bits`.
pub struct Row {
    /// `{name="value",…}` with the names sorted, as the `prometheus` crate writes them.
    labels: Box<str>,
    cells: Box<[AtomicU64]>,
    shown: AtomicBool,
}

impl Table {
    pub fn new(columns: Vec<Column>, label_names: &[&'static str]) -> Self {
        let mut by_name: Vec<usize> = (0..columns.len()).collect();
        by_name.sort_by(|a, b| columns[*a].name.cmp(&columns[*b].name));
        Table {
            columns,
            by_name,
            label_names: label_names.to_vec(),
            rows: Mutex::default(),
        }
    }

    /// A new row with these label values (in the order of the table's label names), hidden
    /// until shown; gone when the last handle is dropped.
    pub fn row(&self, values: &[&str]) -> Arc<Row> {
        debug_assert_eq!(values.len(), self.label_names.len());
        let mut pairs: Vec<(&str, &str)> = self
            .label_names
            .iter()
            .copied()
            .zip(values.iter().copied())
            .collect();
        pairs.sort_unstable_by_key(|(name, _)| *name);
        let mut labels = String::from("{");
        for (i, (name, value)) in pairs.iter().enumerate() {
            if i > 0 {
                labels.push(',');
            }
            labels.push_str(name);
            labels.push_str("=\"");
            escape_into(&mut labels, value);
            labels.push('"');
        }
        labels.push('}');
        let cells = self
            .columns
            .iter()
            .map(|c| {
                AtomicU64::new(match c.kind {
                    Kind::Gauge => 0f64.to_bits(),
                    _ => 0,
                })
            })
            .collect();
        let row = Arc::new(Row {
            labels: labels.into_boxed_str(),
            cells,
            shown: AtomicBool::new(false),
        });
        let mut rows = self.rows.lock().expect("rows lock");
        // Dropped rows are swept here as well as at scrape: a table nobody scrapes stays small.
        if rows.len() == rows.capacity() {
            rows.retain(|r| r.strong_count() > 0);
        }
        rows.push(Arc::downgrade(&row));
        row
    }

    /// Calls `f` on every live row that shows.
    pub fn for_each_shown(&self, mut f: impl FnMut(&Row)) {
        let mut rows = self.rows.lock().expect("rows lock");
        rows.retain(|r| match r.upgrade() {
            Some(row) => {
                if row.is_shown() {
                    f(&row);
                }
                true
            }
            None => false,
        });
    }

    /// Appends the families in Prometheus' text format; a family without a row that shows is
    /// left out, as the `prometheus` crate leaves out an empty vector.
    pub fn render(&self, out: &mut String) {
        let rows: Vec<Arc<Row>> = {
            let mut rows = self.rows.lock().expect("rows lock");
            rows.retain(|r| r.strong_count() > 0);
            rows.iter()
                .filter_map(Weak::upgrade)
                .filter(|r| r.is_shown())
                .collect()
        };
        if rows.is_empty() {
            return;
        }
        for &i in &self.by_name {
            let column = &self.columns[i];
            let kind = match column.kind {
                Kind::Hidden => continue,
                Kind::Counter => "counter",
                Kind::Gauge | Kind::IntGauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {} {}", column.name, escape_help(&column.help));
            let _ = writeln!(out, "# TYPE {} {kind}", column.name);
            for row in &rows {
                out.push_str(&column.name);
                out.push_str(&row.labels);
                out.push(' ');
                let bits = row.cells[i].load(Ordering::Relaxed);
                let _ = match column.kind {
                    Kind::Counter => write!(out, "{bits}"),
                    Kind::IntGauge => write!(out, "{}", bits as i64),
                    _ => write!(out, "{}", float(f64::from_bits(bits))),
                };
                out.push('\n');
            }
        }
    }
}

impl Row {
    pub fn show(&self) {
        self.shown.store(true, Ordering::Relaxed);
    }

    pub fn is_shown(&self) -> bool {
        self.shown.load(Ordering::Relaxed)
    }

    /// Adds to a counter cell.
    pub fn add(&self, cell: usize, n: u64) {
        self.cells[cell].fetch_add(n, Ordering::Relaxed);
    }

    pub fn set(&self, cell: usize, v: f64) {
        self.cells[cell].store(v.to_bits(), Ordering::Relaxed);
    }

    pub fn set_int(&self, cell: usize, v: i64) {
        self.cells[cell].store(v as u64, Ordering::Relaxed);
    }

    pub fn get_int(&self, cell: usize) -> i64 {
        self.cells[cell].load(Ordering::Relaxed) as i64
    }
}

/// A float as the `prometheus` crate writes one.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

/// A label value escaped for the text format (backslash, double quote, newline).
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table::new(
            vec![
                Column::new("x_count", "Records", Kind::Counter),
                Column::new("x_rate", "Rate", Kind::Gauge),
                Column::new("x_lag", "Lag", Kind::IntGauge),
                Column::new("x_clock", "", Kind::Hidden),
            ],
            &["topic", "partition"],
        )
    }

    #[test]
    fn writes_what_the_prometheus_crate_writes_for_the_same_series() {
        let t = table();
        let row = t.row(&["\"a.b\"", "0"]);
        row.show();
        row.add(0, 3);
        row.add(0, 2);
        row.set(1, 0.5);
        row.set_int(2, -1);
        row.set_int(3, 99);
        let mut ours = String::new();
        t.render(&mut ours);

        let registry = prometheus::Registry::new();
        let labels = ["topic", "partition"];
        let count =
            prometheus::IntCounterVec::new(prometheus::Opts::new("x_count", "Records"), &labels)
                .unwrap();
        let rate =
            prometheus::GaugeVec::new(prometheus::Opts::new("x_rate", "Rate"), &labels).unwrap();
        let lag =
            prometheus::IntGaugeVec::new(prometheus::Opts::new("x_lag", "Lag"), &labels).unwrap();
        registry.register(Box::new(count.clone())).unwrap();
        registry.register(Box::new(rate.clone())).unwrap();
        registry.register(Box::new(lag.clone())).unwrap();
        count.with_label_values(&["\"a.b\"", "0"]).inc_by(5);
        rate.with_label_values(&["\"a.b\"", "0"]).set(0.5);
        lag.with_label_values(&["\"a.b\"", "0"]).set(-1);
        let mut buf = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut buf,
        )
        .unwrap();
        assert_eq!(ours, String::from_utf8(buf).unwrap());
    }

    #[test]
    fn rows_show_from_their_first_show_until_dropped() {
        let t = table();
        let hidden = t.row(&["t", "1"]);
        let mut out = String::new();
        t.render(&mut out);
        assert!(out.is_empty(), "no row shows: no family");
        let shown = t.row(&["t", "0"]);
        shown.show();
        shown.set(1, f64::NAN);
        out.clear();
        t.render(&mut out);
        assert!(
            out.contains("x_rate{partition=\"0\",topic=\"t\"} NaN\n"),
            "{out}"
        );
        assert!(
            !out.contains("partition=\"1\"") && !out.contains("x_clock"),
            "{out}"
        );
        let mut seen = 0;
        t.for_each_shown(|_| seen += 1);
        assert_eq!(seen, 1);
        drop((hidden, shown));
        out.clear();
        t.render(&mut out);
        assert!(out.is_empty(), "{out}");
        assert!(t.rows.lock().unwrap().is_empty());
    }
}
