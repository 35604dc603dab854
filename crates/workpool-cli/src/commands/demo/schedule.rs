//! The producer's plan: an arrival trace (a standard one or a CSV file) compressed into the demo's
//! duration and scaled to a peak rate, as a list of send times and message counts.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use workpool_scaler::simulate::Trace;

/// The standard traces shipped with the scaler, by name.
const STANDARD_TRACES: [(&str, &str); 4] = [
    (
        "spike",
        include_str!("../../../../workpool-scaler/traces/spike.csv"),
    ),
    (
        "idle-burst",
        include_str!("../../../../workpool-scaler/traces/idle-burst.csv"),
    ),
    (
        "steady",
        include_str!("../../../../workpool-scaler/traces/steady.csv"),
    ),
    (
        "diurnal",
        include_str!("../../../../workpool-scaler/traces/diurnal.csv"),
    ),
];

/// How finely the compressed trace is cut: the producer sends once per slice.
pub const SLICE: Duration = Duration::from_millis(100);

/// Loads `--trace`: a standard trace by name, or a trace CSV file. Returns a short name for titles.
pub fn load_trace(choice: &str) -> anyhow::Result<(String, Trace)> {
    if let Some((name, text)) = STANDARD_TRACES.iter().find(|(name, _)| *name == choice) {
        let trace = Trace::parse(text).with_context(|| format!("--trace {name}"))?;
        return Ok(((*name).to_owned(), trace));
    }
    let path = Path::new(choice);
    if !path.is_file() {
        let names: Vec<&str> = STANDARD_TRACES.iter().map(|(name, _)| *name).collect();
        bail!(
            "--trace: `{choice}` is neither a standard trace ({}) nor a trace CSV file",
            names.join(", ")
        );
    }
    let trace = Trace::read(path).with_context(|| format!("--trace {choice}"))?;
    let name = path.file_stem().map_or_else(
        || choice.to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    Ok((name, trace))
}

/// When to send how many messages, from the start of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    sends: Vec<(Duration, u32)>,
}

impl Schedule {
    /// Compresses (or stretches) `trace` so that it lasts `duration`, cut into [`SLICE`]s, and scales
    /// the arrivals so that the busiest second of the compressed trace has about `peak_rate`
    /// messages. The trace's shape is kept; fractions are carried from slice to slice, so the total is
    /// the scaled total rounded.
    pub fn compress(trace: &Trace, duration: Duration, peak_rate: f64) -> Self {
        let slices = (duration.as_nanos().div_ceil(SLICE.as_nanos()) as usize).max(1);
        let trace_seconds = trace.duration_secs().max(1) as f64;
        let mut per_slice = vec![0.0_f64; slices];
        for &(second, arrivals) in trace.rows() {
            let slice = ((second as f64 / trace_seconds) * slices as f64) as usize;
            per_slice[slice.min(slices - 1)] += f64::from(arrivals);
        }
        let slices_per_second = (Duration::from_secs(1).as_nanos() / SLICE.as_nanos()) as usize;
        let busiest_second = per_slice
            .chunks(slices_per_second)
            .map(|second| second.iter().sum::<f64>())
            .fold(0.0, f64::max);
        let factor = if busiest_second > 0.0 {
            peak_rate / busiest_second
        } else {
            0.0
        };
        let mut carried = 0.0;
        let mut sends = Vec::new();
        for (index, arrivals) in per_slice.into_iter().enumerate() {
            carried += arrivals * factor;
            let whole = (carried + 1e-9).floor();
            carried -= whole;
            if whole >= 1.0 {
                let count = whole.min(f64::from(u32::MAX)) as u32;
                sends.push((SLICE * index as u32, count));
            }
        }
        Self { sends }
    }

    /// The sends, in time order: offset from the start and how many messages.
    pub fn sends(&self) -> &[(Duration, u32)] {
        &self.sends
    }

    /// Every message the plan sends.
    pub fn total(&self) -> u64 {
        self.sends.iter().map(|(_, count)| u64::from(*count)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_shape_and_scales_the_busiest_second_to_the_peak_rate() {
        // 100 trace seconds: 1 per second, then 10 per second for the last 10.
        let rows = (0..100)
            .map(|s| (s, if s >= 90 { 10 } else { 1 }))
            .collect();
        let trace = Trace::from_pairs(rows);
        let schedule = Schedule::compress(&trace, Duration::from_secs(10), 50.0);
        let last_second: u64 = schedule
            .sends()
            .iter()
            .filter(|(at, _)| *at >= Duration::from_secs(9))
            .map(|(_, n)| u64::from(*n))
            .sum();
        assert_eq!(last_second, 50);
        // The nine quiet seconds carry 90 trace messages at the same factor (50 / 100).
        assert_eq!(schedule.total(), 95);
        assert!(schedule
            .sends()
            .iter()
            .all(|(at, _)| *at < Duration::from_secs(10)));
    }

    #[test]
    fn every_standard_trace_loads_and_an_unknown_name_is_named() {
        for (name, _) in STANDARD_TRACES {
            let (shown, trace) = load_trace(name).expect(name);
            assert_eq!(shown, name);
            let schedule = Schedule::compress(&trace, Duration::from_secs(60), 150.0);
            assert!(schedule.total() > 0, "{name}");
        }
        let error = load_trace("no-such-trace").expect_err("unknown");
        assert!(error.to_string().starts_with("--trace: `no-such-trace`"));
    }

    #[test]
    fn an_empty_trace_sends_nothing() {
        let schedule = Schedule::compress(&Trace::from_pairs(vec![]), Duration::from_secs(5), 10.0);
        assert_eq!(schedule.total(), 0);
    }
}
