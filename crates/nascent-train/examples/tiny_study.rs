//! A small real study from Rust: four NB201 cells trained for one epoch on 2 % of
//! Fashion-MNIST, the best retrained for one epoch, exported and reported.
//!
//! `cargo run -p nascent-train --release --example tiny_study` (about a minute on two cores).

use nascent_study::{Backend, LogStudy, Study, StudySettings};
use nascent_train::study::Torch;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // The base settings (NB201 cells, evolution, Fashion-MNIST), made small.
    let mut settings = StudySettings {
        name: "tiny".into(),
        storage: "memory:".into(),
        out: std::env::temp_dir().join("nascent-tiny-study"),
        ..StudySettings::default()
    };
    settings.budget.trials = Some(4);
    settings.budget.minutes = None;
    settings.fidelity.data_fraction = Some(0.02);
    settings.fidelity.channels = Some(4);
    settings.retrain.epochs = Some(1);
    let backend = Torch::new();
    let config = settings.check(&backend.catalog())?;
    let outcome = Study::new(config, &backend).observer(&LogStudy).run()?;
    let best = outcome.best.expect("a completed trial");
    println!("best trial #{} {}", best.trial, best.arch);
    if let Some(m) = &outcome.final_model {
        println!(
            "test accuracy {:?} %, {} parameters",
            m.test_accuracy, m.params
        );
    }
    println!("report {:?}", outcome.report);
    Ok(())
}
