//! Progress bars for backup and restore, drawn from the engine's [`Event`]s: one bar per
//! collection and an overall one (documents, bytes, rates, ETA), on stderr. Hidden when the
//! command says so (not a terminal, `--no-progress`, `-q`, JSON output); then every event is
//! ignored at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indicatif::{
    HumanBytes, HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle,
};

use crate::backup::events::{Event, Observer};

/// The bars of one backup or restore.
pub struct BackupProgress {
    /// The overall bar's label ("backup", "restore").
    label: &'static str,
    /// `None`: hidden.
    multi: Option<MultiProgress>,
    bars: Mutex<Bars>,
}

#[derive(Default)]
struct Bars {
    overall: Option<ProgressBar>,
    /// Bytes done, all namespaces together.
    bytes: u64,
    /// Per namespace index: its bar and the bytes it has done.
    namespaces: HashMap<usize, (ProgressBar, u64)>,
}

fn style(overall: bool) -> ProgressStyle {
    let t = if overall {
        "{prefix:>32.bold} [{bar:30}] {human_pos}/{human_len} docs, {msg}, ETA {eta}"
    } else {
        "{prefix:>32} [{bar:30}] {human_pos}/{human_len} docs, {msg}"
    };
    ProgressStyle::with_template(t)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl BackupProgress {
    /// Bars labelled `label`, drawn only when `show`.
    pub fn new(show: bool, label: &'static str) -> Arc<Self> {
        Arc::new(BackupProgress {
            label,
            multi: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::default(),
        })
    }

    /// An observer for the engine that draws its events here.
    pub fn observer(self: &Arc<Self>) -> Observer {
        let me = self.clone();
        Arc::new(move |e| me.on_event(e))
    }

    pub fn on_event(&self, e: Event<'_>) {
        let Some(multi) = &self.multi else {
            return;
        };
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match e {
            Event::Started { expected_docs } => {
                bars.overall = Some(
                    multi.add(
                        ProgressBar::new(expected_docs)
                            .with_style(style(true))
                            .with_prefix(self.label),
                    ),
                );
            }
            Event::NamespaceStarted {
                index,
                namespace,
                expected_docs,
            } => {
                let bar = multi.add(
                    ProgressBar::new(expected_docs)
                        .with_style(style(false))
                        .with_prefix(namespace.to_string()),
                );
                bars.namespaces.insert(index, (bar, 0));
            }
            Event::Advanced { index, docs, bytes } => {
                bars.bytes += bytes;
                let total = bars.bytes;
                let overall = bars.overall.clone();
                let bar = bars.namespaces.get_mut(&index).map(|(bar, done)| {
                    *done += bytes;
                    (bar.clone(), *done)
                });
                drop(bars);
                if let Some((bar, done)) = bar {
                    bar.inc(docs);
                    bar.set_message(HumanBytes(done).to_string());
                }
                if let Some(overall) = overall {
                    overall.inc(docs);
                    let secs = overall.elapsed().as_secs_f64().max(1e-3);
                    overall.set_message(format!(
                        "{}, {} docs/s, {}/s",
                        HumanBytes(total),
                        HumanCount((overall.position() as f64 / secs) as u64),
                        HumanBytes((total as f64 / secs) as u64)
                    ));
                }
            }
            Event::NamespaceFinished { index, .. } => {
                if let Some((bar, _)) = bars.namespaces.remove(&index) {
                    bar.finish_and_clear();
                }
            }
            Event::Finished => {
                if let Some(overall) = &bars.overall {
                    overall.finish();
                }
                let _ = multi.clear();
            }
            // The bars show the data copy only.
            Event::Phase(_) => {}
        }
    }
}
