//! Progress bars for backup and restore: one per collection and an overall one (documents,
//! rate, ETA), on stderr, hidden when the caller says so (not a terminal, `--no-progress`,
//! `-q`, JSON output).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    pub overall: ProgressBar,
}

fn style(overall: bool) -> ProgressStyle {
    let t = if overall {
        "{prefix:>32.bold} [{bar:30}] {human_pos}/{human_len} docs {per_sec} ETA {eta} {msg}"
    } else {
        "{prefix:>32} [{bar:30}] {human_pos}/{human_len} docs {per_sec} {msg}"
    };
    ProgressStyle::with_template(t)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress {
    pub fn new(show: bool, total_docs: u64, label: &str) -> Self {
        if !show {
            return Progress {
                multi: None,
                overall: ProgressBar::hidden(),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(
            ProgressBar::new(total_docs)
                .with_style(style(true))
                .with_prefix(label.to_string()),
        );
        Progress {
            multi: Some(multi),
            overall,
        }
    }

    /// A bar for one collection.
    pub fn collection(&self, ns: &str, docs: u64) -> ProgressBar {
        match &self.multi {
            None => ProgressBar::hidden(),
            Some(m) => m.add(
                ProgressBar::new(docs)
                    .with_style(style(false))
                    .with_prefix(ns.to_string()),
            ),
        }
    }

    pub fn finish(&self) {
        self.overall.finish();
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}
