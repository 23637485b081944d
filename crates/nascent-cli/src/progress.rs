//! Progress output on stderr.

use indicatif::{ProgressBar, ProgressStyle};
use nascent_core::TrialState;
use nascent_study::{Event, StudyBudget, StudyEvent, StudyObserver};
use std::sync::Mutex;
use std::time::Duration;

/// Prints `line` on stderr above `bar`: through the bar on a terminal, plainly when the bar is
/// hidden (stderr redirected to a file or a pipe), so logs keep every line.
pub fn say(bar: &ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        eprintln!("{}", line.as_ref());
    } else {
        bar.println(line);
    }
}

/// The study's progress on stderr: a bar over the time (or trial) budget with the current
/// trial's epoch, a line per finished trial, then a bar over the retraining's batches.
pub struct StudyProgress {
    bar: ProgressBar,
    epochs: Option<u32>,
    state: Mutex<ProgressState>,
}

#[derive(Default)]
struct ProgressState {
    best: Option<f64>,
    finished: u64,
    retrain: Option<ProgressBar>,
}

impl StudyProgress {
    /// A bar for `budget`, trials of `epochs` epochs each.
    pub fn new(budget: &StudyBudget, epochs: Option<u32>) -> Self {
        let (len, style) = match (budget.seconds, budget.trials) {
            (Some(s), _) => (
                s.ceil() as u64,
                "{spinner} search [{elapsed_precise}] {wide_bar} {pos}/{len} s  {msg}",
            ),
            (None, Some(t)) => (
                t,
                "{spinner} search [{elapsed_precise}] {wide_bar} {pos}/{len} trials  {msg}",
            ),
            _ => (0, "{spinner} search [{elapsed_precise}] {msg}"),
        };
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(style).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
        StudyProgress {
            bar,
            epochs,
            state: Mutex::new(ProgressState::default()),
        }
    }

    fn run_event(&self, st: &mut ProgressState, event: &Event<'_>) {
        let best = |st: &ProgressState| st.best.map_or("-".into(), |b| format!("{b:.2}"));
        match event {
            Event::RunStarted { counts, .. } => st.finished = counts.finished(),
            Event::TrialStarted { trial, resumed } => self.bar.set_message(format!(
                "trial {}{}: training ... | {} done, best {}",
                trial.number,
                if *resumed { " (re-queued)" } else { "" },
                st.finished,
                best(st)
            )),
            Event::Intermediate {
                number,
                step,
                value,
                of,
            } => self.bar.set_message(format!(
                "trial {number}: epoch {step}/{} val {value:.2} | {} done, best {}",
                of.or(self.epochs).map_or("?".into(), |e| e.to_string()),
                st.finished,
                best(st)
            )),
            Event::TrialFinished { trial } => {
                st.finished += 1;
                if let Some(v) = trial.values.first().copied().filter(|v| v.is_finite())
                    && trial.state == TrialState::Complete
                {
                    st.best = Some(st.best.map_or(v, |b: f64| b.max(v)));
                }
                let values: Vec<String> = trial.values.iter().map(|v| format!("{v:.2}")).collect();
                say(
                    &self.bar,
                    format!(
                        "trial {:>3} {:<8} {} {}",
                        trial.number,
                        trial.state.as_str(),
                        values.join(" "),
                        trial.arch
                    ),
                );
                if let Some(r) = &trial.reason {
                    say(&self.bar, format!("          ({r})"));
                }
            }
            Event::TrialRequeued { number, reason } => {
                say(&self.bar, format!("trial {number} re-queued ({reason:?})"))
            }
            Event::RunFinished { .. } => {}
        }
        if let Some(len) = self.bar.length()
            && len > 0
            && self.bar.position() < len
        {
            self.bar.set_position(self.bar.elapsed().as_secs().min(len));
        }
    }
}

impl StudyObserver for StudyProgress {
    fn event(&self, event: &StudyEvent<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            StudyEvent::Loading { data } => eprintln!("loading {data} ..."),
            StudyEvent::DataReady(d) => eprintln!(
                "data: {} training, {} validation, {} test samples of shape {:?}, {} classes",
                d.train, d.val, d.test, d.shape, d.classes
            ),
            StudyEvent::Run(e) => self.run_event(&mut st, e),
            StudyEvent::SearchFinished(summary) => {
                self.bar.finish_and_clear();
                eprintln!(
                    "search done ({:?}): {} trials, {} complete, {} pruned, {} failed, {:.0} s",
                    summary.stop,
                    summary.counts.total,
                    summary.counts.complete,
                    summary.counts.pruned,
                    summary.counts.failed,
                    summary.study_elapsed_seconds
                );
            }
            StudyEvent::Race { n, of, run } => eprintln!("{}", run.line(*n, *of)),
            StudyEvent::RetrainStarted {
                trial,
                arch,
                epochs,
                channels,
                cells,
                members,
            } => {
                eprintln!(
                    "retraining #{trial} {arch} for {epochs} epochs on all training data \
                     (channels {channels:?}, cells {cells:?}){}",
                    nascent_study::observer::ensemble_note(*members)
                );
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} retrain epoch {msg} [{elapsed_precise}] {wide_bar} {pos}/{len} batches (eta {eta})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message(format!("1/{epochs}"));
                st.retrain = Some(bar);
            }
            StudyEvent::RetrainBatches {
                first_epoch,
                epochs,
                batches,
            } => {
                if let Some(bar) = &st.retrain {
                    bar.set_length((*epochs as u64) * *batches as u64);
                    bar.set_message(format!("{first_epoch}/{epochs}"));
                }
            }
            StudyEvent::RetrainBatch => {
                if let Some(bar) = &st.retrain {
                    bar.inc(1);
                }
            }
            StudyEvent::RetrainEpoch(e) => {
                if let Some(bar) = &st.retrain {
                    say(
                        bar,
                        format!(
                            "retrain epoch {:>3}: loss {:.4} train {:.2}% val {} ({:.0} img/s)",
                            e.epoch,
                            e.train_loss,
                            e.train_accuracy,
                            e.val_accuracy.map_or("-".into(), |v| format!("{v:.2}%")),
                            e.images_per_second
                        ),
                    );
                    bar.set_message(format!("{}/{}", e.epoch + 1, e.epochs));
                }
            }
            StudyEvent::RetrainFinished => {
                if let Some(bar) = st.retrain.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
