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
    counts: BTreeMap<String, Counts>,
    /// Keys with at least one success.
    processed: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    deliveries: u32,
    successes: u32,
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

    /// A ledger that knows `keys` already, so it does not grow while they are counted (for tests
    /// that measure memory). Knowing a key counts nothing: it is neither delivered nor processed.
    pub fn expecting<'a>(keys: impl IntoIterator<Item = &'a String>) -> Self {
        let ledger = Self::new();
        ledger.inner.lock().unwrap().counts = keys
            .into_iter()
            .map(|key| (key.clone(), Counts::default()))
            .collect();
        ledger
    }

    /// Records a delivery of `key` (a handler started on it); returns how many it has had, this one
    /// included.
    pub fn delivered(&self, key: &str) -> u32 {
        let mut inner = self.inner.lock().unwrap();
        let counts = counts_of(&mut inner.counts, key);
        counts.deliveries += 1;
        counts.deliveries
    }

    /// Records a successful completion of `key`.
    pub fn succeeded(&self, key: &str) {
        let mut inner = self.inner.lock().unwrap();
        let counts = counts_of(&mut inner.counts, key);
        counts.successes += 1;
        if counts.successes == 1 {
            inner.processed += 1;
        }
    }

    /// How many deliveries `key` has had.
    pub fn deliveries_of(&self, key: &str) -> u32 {
        let inner = self.inner.lock().unwrap();
        inner.counts.get(key).map_or(0, |counts| counts.deliveries)
    }

    /// How many distinct messages succeeded at least once.
    pub fn processed(&self) -> usize {
        self.inner.lock().unwrap().processed
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
        let processed: BTreeSet<&String> = inner
            .counts
            .iter()
            .filter(|(_, counts)| counts.successes > 0)
            .map(|(key, _)| key)
            .collect();
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
                .counts
                .values()
                .map(|counts| counts.successes.saturating_sub(1) as usize)
                .sum(),
            deliveries: inner
                .counts
                .values()
                .map(|counts| u64::from(counts.deliveries))
                .sum(),
            both: processed.intersection(&dead).count(),
            unknown: processed
                .union(&dead)
                .filter(|key| !sent.contains(*key))
                .count(),
        }
    }
}

/// The counts of `key`, added (at zero) when new; allocates only for a new key.
fn counts_of<'a>(counts: &'a mut BTreeMap<String, Counts>, key: &str) -> &'a mut Counts {
    if !counts.contains_key(key) {
        counts.insert(key.to_owned(), Counts::default());
    }
    counts.get_mut(key).expect("the key was just added")
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

    #[test]
    fn expected_keys_count_nothing_until_delivered() {
        let sent: Vec<String> = (0..3).map(|n| n.to_string()).collect();
        let ledger = Ledger::expecting(&sent);
        assert_eq!((ledger.processed(), ledger.deliveries_of("0")), (0, 0));
        ledger.delivered("0");
        ledger.succeeded("0");
        ledger.succeeded("0");
        let report = ledger.report(&sent, &[]);
        assert_eq!(
            (
                report.processed,
                report.lost,
                report.duplicates,
                report.deliveries
            ),
            (1, 2, 1, 1)
        );
        assert_eq!(ledger.processed(), 1);
    }
}
