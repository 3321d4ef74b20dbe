//! Progress bars for backup and restore: one per collection and an overall one (documents,
//! bytes, rates, ETA), on stderr, hidden when the caller says so (not a terminal, `--no-progress`,
//! `-q`, JSON output).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{
    HumanBytes, HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle,
};

#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    pub overall: ProgressBar,
    bytes: Arc<AtomicU64>,
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

impl Progress {
    pub fn hidden() -> Self {
        Progress {
            multi: None,
            overall: ProgressBar::hidden(),
            bytes: Arc::default(),
        }
    }

    pub fn new(show: bool, total_docs: u64, label: &str) -> Self {
        if !show {
            return Progress::hidden();
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
            bytes: Arc::default(),
        }
    }

    /// `docs` more documents of `bytes` bytes done in `bar`'s collection, which has now done
    /// `bar_bytes` bytes: advances both bars and shows bytes and byte rate beside documents.
    pub fn advance(&self, bar: &ProgressBar, docs: u64, bytes: u64, bar_bytes: u64) {
        bar.inc(docs);
        self.overall.inc(docs);
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if self.multi.is_some() {
            bar.set_message(HumanBytes(bar_bytes).to_string());
            let secs = self.overall.elapsed().as_secs_f64().max(1e-3);
            self.overall.set_message(format!(
                "{}, {} docs/s, {}/s",
                HumanBytes(total),
                HumanCount((self.overall.position() as f64 / secs) as u64),
                HumanBytes((total as f64 / secs) as u64)
            ));
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
