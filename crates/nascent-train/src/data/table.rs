//! CSV tables: numeric feature columns and one label column.
//!
//! The first row names the columns. The label column is the one named by the caller, else the
//! column `label`, else the last. Labels may be any text; the classes are the distinct labels,
//! sorted (numerically when every label is an integer). Every other column must hold numbers.
//! A table of `f` features becomes samples of shape `[f, 1, 1]`, so that any network that
//! takes images takes it too.

use super::{Dataset, LoadedData, Samples};
use nascent_core::{Error, Result};
use std::path::Path;

/// Reads a CSV table with label column `label` (see the module documentation for `None`).
pub fn load_csv(path: &Path, label: Option<&str>) -> Result<LoadedData> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_csv(path, file, label)
}

/// Reads a CSV table from `reader`, read from `path` (named in errors); see [`load_csv`].
pub fn read_csv(
    path: &Path,
    reader: impl std::io::Read,
    label: Option<&str>,
) -> Result<LoadedData> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(String::from)
        .collect();
    if headers.len() < 2 {
        return Err(Error::data(
            path,
            Some(1),
            format!(
                "a table needs at least one feature column and a label column, found {:?}",
                headers
            ),
        ));
    }
    let li = match label {
        Some(name) => headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::data(
                path,
                Some(1),
                format!("no label column `{name}` (columns: {})", headers.join(", ")),
            )
        })?,
        None => headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case("label"))
            .unwrap_or(headers.len() - 1),
    };
    let mut values = Vec::new();
    let mut raw_labels = Vec::new();
    for (r, rec) in rdr.records().enumerate() {
        let line = r + 2;
        let rec = rec.map_err(|e| csv_error(path, e))?;
        if rec.len() != headers.len() {
            return Err(Error::data(
                path,
                Some(line),
                format!("{} fields, the header has {}", rec.len(), headers.len()),
            ));
        }
        for (i, field) in rec.iter().enumerate() {
            if i == li {
                if field.is_empty() {
                    return Err(Error::data(path, Some(line), "empty label"));
                }
                raw_labels.push(field.to_string());
            } else {
                let v: f32 = field.parse().map_err(|_| {
                    Error::data(
                        path,
                        Some(line),
                        format!("column `{}`: `{field}` is not a number", headers[i]),
                    )
                })?;
                if !v.is_finite() {
                    return Err(Error::data(
                        path,
                        Some(line),
                        format!("column `{}`: `{field}` is not finite", headers[i]),
                    ));
                }
                values.push(v);
            }
        }
    }
    if raw_labels.is_empty() {
        return Err(Error::data(path, None, "the table has no rows"));
    }
    let mut classes: Vec<String> = raw_labels.clone();
    classes.sort();
    classes.dedup();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        classes.sort_by_key(|c| c.parse::<i64>().unwrap_or(0));
    }
    let index: std::collections::HashMap<&str, i64> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as i64))
        .collect();
    let labels = raw_labels.iter().map(|l| index[l.as_str()]).collect();
    let f = headers.len() - 1;
    let train = Dataset::new(path, [f, 1, 1], Samples::F32(values), labels, classes)?;
    Ok(LoadedData {
        origin: path.to_path_buf(),
        train,
        test: None,
    })
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        k => Error::data(path, line, format!("{k:?}")),
    }
}
