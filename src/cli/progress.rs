//! How an apply's progress is shown: one live line per service on a terminal,
//! plain lines otherwise (logs, CI, `--json`, whose stdout stays a single document).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::console::stderrln;
use crate::engine::apply::Progress;

/// The progress display for a command: live on a terminal unless `json`.
pub(super) fn progress(json: bool) -> Arc<dyn Progress> {
    if !json && std::io::stderr().is_terminal() {
        Arc::new(LiveProgress::default())
    } else {
        Arc::new(LogProgress { notes: !json })
    }
}

/// Plain lines on stderr.
struct LogProgress {
    /// Notes about the whole run are for a reader; a `--json` caller gets the report.
    notes: bool,
}

impl Progress for LogProgress {
    fn update(&self, service: &str, message: &str) {
        stderrln!("{service}: {message}");
    }

    fn note(&self, text: &str) {
        if self.notes {
            stderrln!("{}", text.trim_end());
        }
    }
}

/// One live line per service (indicatif).
#[derive(Default)]
struct LiveProgress {
    bars: Mutex<HashMap<String, indicatif::ProgressBar>>,
    multi: indicatif::MultiProgress,
}

impl Progress for LiveProgress {
    fn start(&self, services: &[String]) {
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:<20} {msg}")
            .expect("valid template");
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for s in services {
            let bar = self.multi.add(indicatif::ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(s.clone());
            bar.set_message("waiting");
            bar.enable_steady_tick(Duration::from_millis(120));
            bars.insert(s.clone(), bar);
        }
    }

    fn update(&self, service: &str, message: &str) {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        match bars.get(service) {
            Some(bar) => bar.set_message(message.to_string()),
            None => drop(self.multi.println(format!("{service}: {message}"))),
        }
    }

    fn note(&self, text: &str) {
        if self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
        {
            stderrln!("{}", text.trim_end());
            return;
        }
        for line in text.trim_end().lines() {
            // Above the live lines; a closed terminal loses it, nothing else.
            drop(self.multi.println(line));
        }
    }

    fn finish(&self) {
        for bar in self.bars.lock().unwrap_or_else(|e| e.into_inner()).values() {
            bar.finish();
        }
    }
}
