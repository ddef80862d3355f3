//! Progress within an epoch, without the dashboard: Burn reports every batch, and a CNN epoch
//! takes minutes on two cores, so a plain line every [`EVERY`] says how far the split is, how
//! fast it goes and how long it has left (plain text, for a log file).

use std::time::{Duration, Instant};

use crate::model::summary::grouped;

/// How often a progress line is printed, at most.
pub(super) const EVERY: Duration = Duration::from_secs(10);

/// One split (training or validation) of one epoch, under way.
#[derive(Debug)]
pub(super) struct SplitProgress {
    /// "training" or "validation".
    split: &'static str,
    /// Images in the split.
    total: usize,
    /// When the split started.
    started: Instant,
    /// When a line was last due (the split's start before the first).
    last: Instant,
}

impl SplitProgress {
    /// Burn's split name (`train`, `valid`) starting at `now` with `total` images.
    pub(super) fn start(split: &str, total: usize, now: Instant) -> Self {
        Self {
            split: if split == "train" {
                "training"
            } else {
                "validation"
            },
            total,
            started: now,
            last: now,
        }
    }

    /// The line for `done` images at `now`, when [`EVERY`] has passed since the last one:
    /// `training 37% (22,400 of 60,000 images), 5,120 images/s, 7 s left`.
    pub(super) fn line(&mut self, done: usize, now: Instant) -> Option<String> {
        if now.duration_since(self.last) < EVERY || done == 0 || self.total == 0 {
            return None;
        }
        self.last = now;
        let seconds = now.duration_since(self.started).as_secs_f64();
        let rate = done as f64 / seconds.max(1e-9);
        let left = self.total.saturating_sub(done) as f64 / rate;
        Some(format!(
            "{} {}% ({} of {} images), {} images/s, {:.0} s left",
            self.split,
            100 * done.min(self.total) / self.total,
            grouped(done as u64),
            grouped(self.total as u64),
            grouped(rate as u64),
            left
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_every_ten_seconds_with_rate_and_time_left() {
        let start = Instant::now();
        let mut progress = SplitProgress::start("train", 60_000, start);
        assert_eq!(progress.line(6_400, start + Duration::from_secs(5)), None);
        assert_eq!(
            progress
                .line(20_000, start + Duration::from_secs(10))
                .as_deref(),
            Some("training 33% (20,000 of 60,000 images), 2,000 images/s, 20 s left")
        );
        assert_eq!(progress.line(22_000, start + Duration::from_secs(11)), None);
        let later = progress.line(40_000, start + Duration::from_secs(20));
        assert!(later.is_some_and(|line| line.starts_with("training 66%")));
        let mut valid = SplitProgress::start("valid", 10_000, start);
        let line = valid.line(5_000, start + Duration::from_secs(10)).unwrap();
        assert!(line.starts_with("validation 50%"), "{line}");
    }
}
