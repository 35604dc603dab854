//! [`Ledger`]: what happened to each message, by body, so a test can count messages in and out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Deliveries and successful completions per message key (usually the body), shared by handlers.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    deliveries: BTreeMap<String, u32>,
    successes: BTreeMap<String, u32>,
}

/// Messages in and out: `sent` = `processed` + `dead_lettered` + `lost` (a message both processed and
/// dead-lettered counts as processed and is listed in `both`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerReport {
    /// Messages sent.
    pub sent: usize,
    /// Messages whose handler succeeded at least once.
    pub processed: usize,
    /// Messages found in the dead-letter queue and never processed.
    pub dead_lettered: usize,
    /// Messages neither processed nor dead-lettered.
    pub lost: usize,
    /// The first few lost keys, to name them in a failure.
    pub lost_examples: Vec<String>,
    /// Extra successful completions (a message processed twice adds one).
    pub duplicates: usize,
    /// Deliveries in all (first deliveries and redeliveries).
    pub deliveries: u64,
    /// Messages that were both processed and dead-lettered (should not happen).
    pub both: usize,
    /// Keys processed or dead-lettered that were never sent (should not happen).
    pub unknown: usize,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a delivery of `key` (a handler started on it); returns how many it has had, this one
    /// included.
    pub fn delivered(&self, key: &str) -> u32 {
        let mut inner = self.inner.lock().unwrap();
        let count = inner.deliveries.entry(key.to_owned()).or_default();
        *count += 1;
        *count
    }

    /// Records a successful completion of `key`.
    pub fn succeeded(&self, key: &str) {
        let mut inner = self.inner.lock().unwrap();
        *inner.successes.entry(key.to_owned()).or_default() += 1;
    }

    /// How many deliveries `key` has had.
    pub fn deliveries_of(&self, key: &str) -> u32 {
        let inner = self.inner.lock().unwrap();
        inner.deliveries.get(key).copied().unwrap_or(0)
    }

    /// How many distinct messages succeeded at least once.
    pub fn processed(&self) -> usize {
        self.inner.lock().unwrap().successes.len()
    }

    /// Counts `sent` against what was processed and what `dead_lettered` holds.
    pub fn report<'a>(
        &self,
        sent: impl IntoIterator<Item = &'a String>,
        dead_lettered: impl IntoIterator<Item = &'a String>,
    ) -> LedgerReport {
        let inner = self.inner.lock().unwrap();
        let sent: BTreeSet<&String> = sent.into_iter().collect();
        let dead: BTreeSet<&String> = dead_lettered.into_iter().collect();
        let processed: BTreeSet<&String> = inner.successes.keys().collect();
        let lost: Vec<String> = sent
            .iter()
            .filter(|key| !processed.contains(*key) && !dead.contains(*key))
            .map(|key| (*key).clone())
            .collect();
        LedgerReport {
            sent: sent.len(),
            processed: processed.iter().filter(|key| sent.contains(*key)).count(),
            dead_lettered: dead
                .iter()
                .filter(|key| sent.contains(*key) && !processed.contains(*key))
                .count(),
            lost: lost.len(),
            lost_examples: lost.into_iter().take(10).collect(),
            duplicates: inner
                .successes
                .values()
                .map(|n| n.saturating_sub(1) as usize)
                .sum(),
            deliveries: inner.deliveries.values().map(|n| u64::from(*n)).sum(),
            both: processed.intersection(&dead).count(),
            unknown: processed
                .union(&dead)
                .filter(|key| !sent.contains(*key))
                .count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_and_out() {
        let ledger = Ledger::new();
        let sent: Vec<String> = (0..5).map(|n| n.to_string()).collect();
        for key in ["0", "1", "1", "2"] {
            ledger.delivered(key);
            ledger.succeeded(key);
        }
        ledger.delivered("3");
        let dead = vec!["3".to_owned()];
        let report = ledger.report(&sent, &dead);
        assert_eq!(
            (
                report.processed,
                report.dead_lettered,
                report.lost,
                report.duplicates
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(report.lost_examples, ["4"]);
        assert_eq!((report.deliveries, report.both, report.unknown), (5, 0, 0));
    }
}
