//! Loading the NAS-Bench-201 tables: every error names the file and the line, and the real
//! tables (when the shared data is there) load with the published anchors.

use nascent_bench::{Dataset, LatencyTable, Nb201Table};
use nascent_core::SearchSpace;
use nascent_core::testing::shared_data;
use nascent_space::Nb201Space;
use std::io::Cursor;

const HEADER: &str = "index,arch_str,cifar10_test_200ep,cifar100_test_200ep,imagenet16_test_200ep,\
cifar10_test_12ep,cifar10valid_val_12ep,cifar100_test_12ep,cifar100_val_12ep,imagenet16_test_12ep,\
imagenet16_val_12ep";

/// A synthetic but well-formed table of every cell in index order (values derived from the
/// index), with `edit` applied to the line of row `row`.
fn synthetic(rows: usize, edit: impl Fn(usize, String) -> String) -> String {
    let space = Nb201Space::new();
    let mut out = String::from(HEADER);
    out.push('\n');
    for i in 0..rows {
        let arch = space.from_index(i as u64).unwrap();
        let v = (i % 97) as f64;
        let line = format!("{i},{arch},{v},{v},{v},{v},{v},{v},{v},{v},{v}");
        out += &edit(i, line);
        out.push('\n');
    }
    out
}

fn load(text: String) -> Result<Nb201Table, String> {
    Nb201Table::from_reader(Cursor::new(text.into_bytes()), "test/nb201.csv")
        .map_err(|e| e.to_string())
}

#[test]
fn a_complete_synthetic_table_loads() {
    let t = load(synthetic(15_625, |_, l| l)).unwrap();
    assert_eq!(t.rows().len(), 15_625);
    let space = Nb201Space::new();
    let a = space.from_index(200).unwrap();
    assert_eq!(t.row(&a).signal(Dataset::Cifar100), (200 % 97) as f64);
}

#[test]
fn errors_name_the_file_and_line() {
    // Wrong row count.
    let e = load(synthetic(100, |_, l| l)).unwrap_err();
    assert!(e.starts_with("test/nb201.csv:101:"), "{e}");
    assert!(
        e.contains("wrong row count: 100 data rows") && e.contains("15625"),
        "{e}"
    );
    // Malformed row: a field missing (data row 3 is line 4).
    let e = load(synthetic(15_625, |i, l| {
        if i == 2 {
            l.rsplit_once(',').unwrap().0.into()
        } else {
            l
        }
    }))
    .unwrap_err();
    assert!(
        e.starts_with("test/nb201.csv:4:") && e.contains("malformed row"),
        "{e}"
    );
    // A number that is not one.
    let e = load(synthetic(15_625, |i, l| {
        if i == 5 {
            l.replacen(",5,", ",five,", 1)
        } else {
            l
        }
    }))
    .unwrap_err();
    assert!(
        e.starts_with("test/nb201.csv:7:") && e.contains("`cifar10_test_200ep` is `five`"),
        "{e}"
    );
    // Unknown op.
    let e = load(synthetic(15_625, |i, l| {
        if i == 9 {
            l.replacen("skip_connect", "skip_conect", 1)
        } else {
            l
        }
    }))
    .unwrap_err();
    assert!(
        e.starts_with("test/nb201.csv:11:") && e.contains("unknown op `skip_conect`"),
        "{e}"
    );
    // Rows out of order: two rows swapped.
    let text = synthetic(15_625, |_, l| l);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(3, 4);
    let e = load(lines.join("\n")).unwrap_err();
    assert!(
        e.starts_with("test/nb201.csv:4:") && e.contains("expected index 2, found 3"),
        "{e}"
    );
    // The right index with the wrong cell.
    let e = load(synthetic(15_625, |i, l| {
        if i == 0 {
            let space = Nb201Space::new();
            l.replace(
                &space.from_index(0).unwrap().to_string(),
                &space.from_index(1).unwrap().to_string(),
            )
        } else {
            l
        }
    }))
    .unwrap_err();
    assert!(
        e.starts_with("test/nb201.csv:2:") && e.contains("NAS-Bench-201 index 0 is"),
        "{e}"
    );
    // A missing column.
    let e = load(synthetic(3, |_, l| l).replacen("cifar100_val_12ep", "cifar100_valid", 1))
        .unwrap_err();
    assert!(
        e.starts_with("test/nb201.csv:1:") && e.contains("missing column `cifar100_val_12ep`"),
        "{e}"
    );
    // Empty.
    let e = load(String::new()).unwrap_err();
    assert!(e.contains("test/nb201.csv") && e.contains("empty"), "{e}");
    // Missing file.
    let e = Nb201Table::load("/nonexistent/nb201.csv")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/nonexistent/nb201.csv:"), "{e}");
}

#[test]
fn latency_errors_name_the_file_and_line() {
    let space = Nb201Space::new();
    let mut text = String::from("index,arch_str,pixel3,raspi4\n");
    for i in 0..15_625u64 {
        let arch = space.from_index(i).unwrap();
        let v = if i == 40 {
            "n/a".to_string()
        } else {
            format!("{}", i % 13)
        };
        text += &format!("{i},{arch},{v},1.5\n");
    }
    let e = LatencyTable::from_reader(Cursor::new(text.clone().into_bytes()), "lat.csv")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("lat.csv:42:") && e.contains("`pixel3` is `n/a`"),
        "{e}"
    );
    let ok = text.replace(",n/a,", ",3,");
    let t = LatencyTable::from_reader(Cursor::new(ok.into_bytes()), "lat.csv").unwrap();
    assert_eq!(t.devices(), ["pixel3", "raspi4"]);
    let d = t.device("raspi4").unwrap();
    assert_eq!(t.latency(&space.from_index(7).unwrap(), d), 1.5);
    let e = t.device("tpu").unwrap_err().to_string();
    assert!(
        e.contains("unknown device `tpu`") && e.contains("pixel3, raspi4"),
        "{e}"
    );
}

#[test]
fn the_real_tables_load_with_the_published_anchors() {
    let Some(data) = shared_data("nb201/nb201.csv") else {
        return;
    };
    let t = Nb201Table::load(data).unwrap();
    let max = |d: Dataset| {
        t.rows()
            .iter()
            .map(|r| r.test(d))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    assert!((max(Dataset::Cifar10) - 94.37).abs() < 0.01);
    assert!((max(Dataset::Cifar100) - 73.51).abs() < 0.01);
    assert!((max(Dataset::ImageNet16) - 47.31).abs() < 0.01);
    // The best CIFAR-10 test accuracy is at index 6111 (tied with 13714, the cell with the best
    // CIFAR-10 signal).
    let argmax = |f: &dyn Fn(usize) -> f64| {
        (0..t.rows().len())
            .max_by(|&a, &b| f(a).total_cmp(&f(b)))
            .unwrap()
    };
    assert_eq!(t.rows()[6111].test(Dataset::Cifar10), max(Dataset::Cifar10));
    let best = argmax(&|i| t.rows()[i].signal(Dataset::Cifar10));
    assert_eq!(best, 13714);
    assert_eq!(t.rows()[best].test(Dataset::Cifar10), max(Dataset::Cifar10));
    let Some(latency) = shared_data("nb201/nb201_latency_ms.csv") else {
        return;
    };
    let l = LatencyTable::load(latency).unwrap();
    assert_eq!(l.devices().len(), 27);
    let arch = t.rows()[1].arch;
    let d = l.device("pixel3").unwrap();
    assert!((l.latency(&arch, d) - 17.2381).abs() < 1e-9);
}

#[test]
fn top_cells_are_the_best_by_test_accuracy() {
    let t = load(synthetic(15_625, |_, l| l)).unwrap();
    let top = t.top_cells(Dataset::Cifar10, 5);
    assert_eq!(top.len(), 5);
    // The synthetic accuracy is the index mod 97: 96 first, lowest index first among ties.
    let space = Nb201Space::new();
    assert_eq!(top[0], space.from_index(96).unwrap());
    assert_eq!(top[1], space.from_index(96 + 97).unwrap());
    for w in top.windows(2) {
        assert!(t.row(&w[0]).test(Dataset::Cifar10) >= t.row(&w[1]).test(Dataset::Cifar10));
    }
}
