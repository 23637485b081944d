//! The numbers behind the report's charts, and time formatting.

use nascent_core::Direction;
use std::collections::BTreeMap;

/// The best-so-far staircase of `(x, value)` observations (sorted by x here; non-finite ones
/// skipped): a vertex where each improvement happens, with the horizontal run before it, and
/// a last vertex at the largest x.
pub fn best_so_far(points: &[(f64, f64)], direction: Direction) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let better = |a: f64, b: f64| match direction {
        Direction::Maximize => a > b,
        Direction::Minimize => a < b,
    };
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut best: Option<f64> = None;
    for &(x, v) in &pts {
        match best {
            None => {
                out.push((x, v));
                best = Some(v);
            }
            Some(b) if better(v, b) => {
                out.push((x, b));
                out.push((x, v));
                best = Some(v);
            }
            _ => {}
        }
    }
    if let (Some(b), Some(&(x, _))) = (best, pts.last())
        && out.last().is_some_and(|l| l.0 < x)
    {
        out.push((x, b));
    }
    out
}

/// One operation's share (%) of all operation uses among the best architectures and among
/// all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct OpShare {
    /// The operation.
    pub op: String,
    /// Share among the top k (%).
    pub top: f64,
    /// Share among all (%).
    pub all: f64,
    /// Uses among the top k.
    pub top_count: usize,
    /// Uses among all.
    pub all_count: usize,
}

/// The share of each operation among `top` and among `all` architectures (`ops` lists the
/// operations an architecture uses, as [`super::ArchView::ops`] does), sorted by the share
/// among the top (most favoured first), then by name.
pub fn op_shares(ops: &dyn Fn(&str) -> Vec<String>, top: &[&str], all: &[&str]) -> Vec<OpShare> {
    let count = |archs: &[&str]| -> (BTreeMap<String, usize>, usize) {
        let mut m = BTreeMap::new();
        let mut n = 0;
        for a in archs {
            for op in ops(a) {
                *m.entry(op).or_insert(0) += 1;
                n += 1;
            }
        }
        (m, n)
    };
    let (tm, tn) = count(top);
    let (am, an) = count(all);
    let pct = |c: usize, n: usize| {
        if n == 0 {
            0.0
        } else {
            100.0 * c as f64 / n as f64
        }
    };
    let mut shares: Vec<OpShare> = am
        .keys()
        .chain(tm.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|op| {
            let t = tm.get(op).copied().unwrap_or(0);
            let a = am.get(op).copied().unwrap_or(0);
            OpShare {
                op: op.clone(),
                top: pct(t, tn),
                all: pct(a, an),
                top_count: t,
                all_count: a,
            }
        })
        .collect();
    shares.sort_by(|a, b| b.top.total_cmp(&a.top).then(a.op.cmp(&b.op)));
    shares
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time(unix: f64) -> String {
    if !unix.is_finite() {
        return "–".into();
    }
    let secs = unix.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The calendar date of a day count since 1970-01-01 (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    // Shift to eras of 400 years starting on 0000-03-01.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A duration for people: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    if seconds < 1.0 {
        return format!("{:.0} ms", seconds * 1000.0);
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let s = seconds.round() as u64;
    if s < 3600 {
        return format!("{} min {:02} s", s / 60, s % 60);
    }
    format!("{} h {:02} min", s / 3600, s % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staircase_of_best_values() {
        let pts = [
            (3.0, 5.0),
            (1.0, 4.0),
            (2.0, 3.0),
            (4.0, 6.0),
            (5.0, f64::NAN),
        ];
        assert_eq!(
            best_so_far(&pts, Direction::Maximize),
            vec![(1.0, 4.0), (3.0, 4.0), (3.0, 5.0), (4.0, 5.0), (4.0, 6.0)]
        );
        assert_eq!(
            best_so_far(&pts, Direction::Minimize),
            vec![(1.0, 4.0), (2.0, 4.0), (2.0, 3.0), (4.0, 3.0)]
        );
        assert!(best_so_far(&[], Direction::Minimize).is_empty());
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(format_time(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_time(1_795_838_773.9), "2026-11-28 04:06:13 UTC");
        assert_eq!(format_time(-86_400.0), "1969-12-31 00:00:00 UTC");
        assert_eq!(format_duration(0.25), "250 ms");
        assert_eq!(format_duration(12.34), "12.3 s");
        assert_eq!(format_duration(245.0), "4 min 05 s");
        assert_eq!(format_duration(7380.0), "2 h 03 min");
    }
}
