//! The offline bound with boot: a lower bound on the instance-seconds of every run that keeps p99
//! wait within L, clairvoyant policies included, that counts the boot time no run can avoid.

use std::time::Duration;

use crate::simulate::report::late_allowed;

/// One job of a trace: the second it arrives and how many seconds it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Second of arrival.
    pub arrival: u64,
    /// Whole seconds it occupies a slot.
    pub duration: u64,
}

#[cfg(test)]
impl Job {
    /// Jobs from `(arrival, duration)` pairs.
    pub(crate) fn from_pairs(pairs: &[(u64, u64)]) -> Vec<Job> {
        pairs
            .iter()
            .map(|&(arrival, duration)| Job { arrival, duration })
            .collect()
    }
}

/// The model the bound holds in, and the grid its windows are picked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundModel {
    slots: u64,
    boot: u64,
    acceptable_wait: u64,
    initial: u64,
    step: u64,
    dense_windows: u64,
    max_gap: u64,
}

impl BoundModel {
    /// `slots` jobs at once per instance (at least 1), `boot` from launch to in service (billed),
    /// p99 wait ≤ `acceptable_wait`, no instance at the start; windows on a 30 s grid, of every
    /// length up to 20 minutes and longer ones up to the whole trace, gaps before them at most
    /// 10 minutes. Durations count in whole seconds.
    ///
    /// # Panics
    /// If `slots` is zero.
    pub fn new(slots: u32, boot: Duration, acceptable_wait: Duration) -> Self {
        assert!(slots >= 1, "at least one slot per instance");
        Self {
            slots: u64::from(slots),
            boot: boot.as_secs(),
            acceptable_wait: acceptable_wait.as_secs(),
            initial: 0,
            step: 30,
            dense_windows: 1200,
            max_gap: 600,
        }
    }

    /// Instances already in service at second 0 (default 0): they boot for free.
    pub fn initial_instances(mut self, instances: u32) -> Self {
        self.initial = u64::from(instances);
        self
    }

    /// The grid the windows and gaps are picked on: boundaries every `step`; windows of every
    /// length (in steps) up to `dense_windows`, longer ones each a quarter longer than the last up
    /// to the whole trace; gaps of every length up to `max_gap`. Only the bound's tightness and its
    /// computing time depend on it, never its validity.
    ///
    /// # Panics
    /// If `step` is under one second.
    pub fn grid(mut self, step: Duration, dense_windows: Duration, max_gap: Duration) -> Self {
        assert!(step.as_secs() >= 1, "a grid step of at least one second");
        self.step = step.as_secs();
        self.dense_windows = dense_windows.as_secs().max(self.step);
        self.max_gap = max_gap.as_secs();
        self
    }

    /// Window lengths in steps, for a horizon of `points` steps.
    fn window_lengths(&self, points: usize) -> Vec<usize> {
        let dense = (self.dense_windows / self.step) as usize;
        let mut lengths: Vec<usize> = (1..=dense.min(points)).collect();
        let mut length = dense;
        while length < points {
            length = (length + length.div_ceil(4)).min(points);
            lengths.push(length);
        }
        lengths
    }
}

/// One window the bound counts, with the gap before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundWindow {
    /// Start of the gap before the window (equal to `start` for the first window: no gap).
    pub gap_start: u64,
    /// First second of the window.
    pub start: u64,
    /// Second after the window.
    pub end: u64,
    /// Instances some second of the window needs in service (`P`).
    pub instances: u64,
    /// What the window adds to the bound, in slot-seconds (divide by the slots for
    /// instance-seconds).
    pub slot_seconds: u64,
}

/// The offline bound with boot of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineBound {
    /// The bound, in instance-seconds.
    pub instance_seconds: u64,
    /// The work alone: its slot-seconds over the slots, rounded up (the report's lower bound).
    pub work_instance_seconds: u64,
    /// The windows the bound counts, in time order.
    pub windows: Vec<BoundWindow>,
}

impl OfflineBound {
    /// The bound in instance-minutes.
    pub fn minutes(&self) -> f64 {
        self.instance_seconds as f64 / 60.0
    }

    /// What the bound adds to the work alone, in instance-seconds: booting, and idle slots kept
    /// through a gap instead of booting again.
    pub fn boot_instance_seconds(&self) -> u64 {
        self.instance_seconds - self.work_instance_seconds
    }
}

/// A lower bound on the instance-seconds of every run of `jobs` in `model` that does all the work
/// with p99 wait ≤ L, whatever its policy, one that knows every arrival and duration in advance
/// included. It adds to the work alone (slot-seconds / slots, the report's lower bound) the boot
/// time that the instances the work needs at its peaks must have spent, and the idle slots of the
/// instances kept through a quiet gap instead.
///
/// # The model
///
/// The simulator's, relaxed (so the bound holds for it): s slots per instance; an instance
/// launched at any second is billed every second until it is released, its first B seconds
/// booting (not in service); an instance with a job running is not released; a job `j` arriving at
/// `r_j` starts at any second `σ_j ≥ r_j` on a free slot of an instance in service and occupies it
/// for the seconds `σ_j … σ_j + d_j − 1`; every job is started and finished before billing stops;
/// `n0` instances are in service at second 0 (none in B4). Jobs may be started in any order and
/// launches made at any second on any knowledge: nothing below depends on how a run decides.
/// The p99 is the nearest rank, as in the report: p99 ≤ L means at most
/// `m = n − ⌈0.99 n⌉` jobs wait more than L (the *late* jobs). Whole seconds throughout.
///
/// # Derivation
///
/// Let `A(t)` be the instances in service at second `t`, `w(t) ≤ s·A(t)` the busy slots, and
/// `W = Σ d_j` the work. The cost is `Σ_t A(t)` plus the booting seconds, and
/// `s·Σ_t A(t) = W + I` with `I = Σ_t (s·A(t) − w(t)) ≥ 0` the idle slot-seconds. So
/// `s·cost = W + I + s·(booting seconds)`; the report's lower bound drops the last two terms.
///
/// Pick windows `[u_k, v_k)`, `k = 1…K`, each but the first with a gap `G_k = [e_k, u_k)` of
/// length `g_k ≥ 1` before it, in time order: `v_{k−1} ≤ e_k`. For a job and a span, let `o(σ)` be
/// how many of the job's seconds lie in the span if it starts at `σ`; `o` rises, stays flat, then
/// falls as `σ` grows.
///
/// 1. *What a window needs.* A job that is not late starts in `[r_j, r_j + L]`, so it spends at
///    least `f_j = min(o(r_j), o(r_j + L))` seconds in the window (`o` has no dip). A late job
///    spends at most `min(d_j, v_k − u_k)` there, and there are at most `m` of them, so the work done
///    in the window is at least `F_k = Σ_j f_j − Y(v_k − u_k)`, where `Y(x)` is the sum of the `m`
///    largest `min(d_j, x)`. Some second `τ_k` of the window has `w(τ_k) ≥ F_k / (v_k − u_k)`, so,
///    `A` being whole, `A(τ_k) ≥ P_k = ⌈F_k / (s·(v_k − u_k))⌉`.
/// 2. *What a gap can use.* A job that is not late spends at most `max o(σ)` over
///    `σ ∈ [r_j, r_j + L]` in `G_k` (`o(clamp(e_k, r_j, r_j + L))`, as `o` peaks at `σ = e_k`), a
///    late one at most `min(d_j, g_k)`: the work done in the gap is at most
///    `M_k = Σ_j max o + Y(g_k)`.
/// 3. *Split the instances in service at `τ_k`.* `b_k` of them came into service after `e_k`
///    (`e_1 = 0`), `c_k` at or before it (`c_1 ≤ n0`). An instance is billed over one interval, so
///    each of the `c_k` is in service through all of `G_k`: the gap's idle slot-seconds are at least
///    `s·c_k·g_k − M_k`, and at least 0. Each of the `b_k` booted B seconds, and came into service in
///    `(e_k, τ_k]`; as `τ_{k−1} < v_{k−1} ≤ e_k`, these intervals are disjoint, so no instance is
///    counted for two windows, and the gaps are disjoint too. Hence
///    `s·cost ≥ W + Σ_k (s·B·b_k + max(0, s·c_k·g_k − M_k))`, with `b_k + c_k ≥ P_k`.
/// 4. *The cheapest split.* A larger `b_k + c_k` only adds, so take `b_k = P_k − c_k` and minimize
///    over a real `c ∈ [0, P_k]`: `s·B·(P_k − c) + max(0, s·c·g − M)` falls with slope `−s·B` until
///    `c = M / (s·g)`, then changes with slope `s·(g − B)`. The minimum is
///    `min(B, g)·max(0, s·P_k − M/g)` slot-seconds for `k ≥ 2` (keep `M/(s·g)` instances through the
///    gap and launch the rest when `g ≥ B`; keep all when `g < B`), and `s·B·max(0, P_1 − n0)` for
///    the first window, which nothing can have been kept for.
///
/// So every such run costs at least `⌈(W + Σ_k term_k) / s⌉` instance-seconds (terms rounded
/// down, the total up: the cost is whole). Each window set gives a valid bound; this one picks the
/// largest over window sets on the model's grid, by dynamic programming over the last window's
/// end. With no window it is the report's lower bound, so it is never below that.
///
/// It is loose where a run must also pay idle slots inside the windows (the peaks of `w` above
/// its average, the drain of the last long jobs, idle slots that are not in a chosen gap) and
/// because a late job is allowed in every window and gap at once.
pub fn offline_bound_with_boot(jobs: &[Job], model: &BoundModel) -> OfflineBound {
    let s = model.slots;
    let work: u64 = jobs.iter().map(|job| job.duration).sum();
    let work_instance_seconds = work.div_ceil(s);
    let nothing = OfflineBound {
        instance_seconds: work_instance_seconds,
        work_instance_seconds,
        windows: Vec::new(),
    };
    if jobs.is_empty() {
        return nothing;
    }
    let mut sorted = jobs.to_vec();
    sorted.sort_by_key(|job| job.arrival);
    let jobs = sorted;
    let mut longest: Vec<u64> = jobs.iter().map(|job| job.duration).collect();
    longest.sort_unstable_by(|a, b| b.cmp(a));
    longest.truncate(late_allowed(jobs.len()));
    // Y(x): the most the late jobs can put in a span of x seconds.
    let late = |span: u64| -> u64 { longest.iter().map(|d| (*d).min(span)).sum() };
    let wait = model.acceptable_wait;
    let max_duration = longest_duration(&jobs);
    let step = model.step;
    // Past the last second a job that is not late can occupy, no window needs anything.
    let horizon = jobs
        .iter()
        .map(|job| job.arrival + wait + job.duration)
        .max()
        .unwrap_or(0);
    let points = horizon.div_ceil(step) as usize;
    let window_lengths = model.window_lengths(points);
    let gap_lengths = (model.max_gap / step) as usize;

    // needed[u][l]: P of the window [u·step, (u + window_lengths[l])·step).
    let mut needed = vec![vec![0u64; window_lengths.len()]; points];
    for (u, row) in needed.iter_mut().enumerate() {
        let start = u as u64 * step;
        for (l, cell) in row.iter_mut().enumerate() {
            let length = window_lengths[l] as u64 * step;
            let end = start + length;
            // Only jobs with r < end − L and r + d > start spend a forced second here.
            let from = jobs.partition_point(|job| job.arrival + max_duration <= start);
            let forced: u64 = jobs[from..]
                .iter()
                .take_while(|job| job.arrival + wait < end)
                .map(|job| {
                    overlap(job.arrival, job.duration, start, end).min(overlap(
                        job.arrival + wait,
                        job.duration,
                        start,
                        end,
                    ))
                })
                .sum();
            *cell = forced.saturating_sub(late(length)).div_ceil(s * length);
        }
    }
    // usable[e][g]: M of the gap [e·step, (e + g + 1)·step).
    let mut usable = vec![vec![0u64; gap_lengths]; points];
    for (e, row) in usable.iter_mut().enumerate() {
        let start = e as u64 * step;
        for (g, cell) in row.iter_mut().enumerate() {
            let length = (g as u64 + 1) * step;
            let end = start + length;
            // Only jobs with r < end and r + L + d > start can spend a second here.
            let from = jobs.partition_point(|job| job.arrival + wait + max_duration <= start);
            let most: u64 = jobs[from..]
                .iter()
                .take_while(|job| job.arrival < end)
                .map(|job| {
                    let at = start.clamp(job.arrival, job.arrival + wait);
                    overlap(at, job.duration, start, end)
                })
                .sum();
            *cell = most + late(length);
        }
    }

    // best_end[v]: the largest sum of terms over window sets whose last window ends at v·step,
    // with how it ends; best_by[x]: the largest over those ending at or before x·step.
    #[derive(Clone, Copy)]
    struct End {
        total: u64,
        window: BoundWindow,
        previous: Option<usize>,
    }
    let mut best_end: Vec<Option<End>> = vec![None; points + 1];
    let mut best_by: Vec<Option<(u64, usize)>> = vec![None; points + 1];
    for v in 1..=points {
        let mut best: Option<End> = None;
        let mut offer = |candidate: End| {
            if best.is_none_or(|b| candidate.total > b.total) {
                best = Some(candidate);
            }
        };
        for (l, length) in window_lengths.iter().enumerate() {
            let Some(u) = v.checked_sub(*length) else {
                break;
            };
            let instances = needed[u][l];
            if instances == 0 {
                continue;
            }
            let window = |gap_start: usize, slot_seconds: u64| BoundWindow {
                gap_start: gap_start as u64 * step,
                start: u as u64 * step,
                end: v as u64 * step,
                instances,
                slot_seconds,
            };
            let first = s * model.boot * instances.saturating_sub(model.initial);
            offer(End {
                total: first,
                window: window(u, first),
                previous: None,
            });
            // The gap [e, u), g + 1 steps long.
            for (g, e) in (0..u).rev().take(gap_lengths).enumerate() {
                let Some((before, previous)) = best_by[e] else {
                    continue;
                };
                let term = gap_term(instances, usable[e][g], (g as u64 + 1) * step, model);
                offer(End {
                    total: before + term,
                    window: window(e, term),
                    previous: Some(previous),
                });
            }
        }
        best_end[v] = best;
        best_by[v] = best_by[v - 1];
        if let Some(end) = best {
            if best_by[v].is_none_or(|(total, _)| end.total > total) {
                best_by[v] = Some((end.total, v));
            }
        }
    }
    let Some((terms, last)) = best_by[points] else {
        return nothing;
    };
    let mut windows = Vec::new();
    let mut at = Some(last);
    while let Some(v) = at {
        let end = best_end[v].expect("a recorded end");
        windows.push(end.window);
        at = end.previous;
    }
    windows.reverse();
    OfflineBound {
        instance_seconds: (work + terms).div_ceil(s),
        work_instance_seconds,
        windows,
    }
}

/// Step 4 for a window after a gap, in slot-seconds rounded down:
/// `min(B, g)·max(0, s·P − M/g)`.
fn gap_term(instances: u64, usable: u64, gap: u64, model: &BoundModel) -> u64 {
    let kept_capacity = model.slots * instances * gap;
    let short = kept_capacity.saturating_sub(usable);
    if gap >= model.boot {
        model.boot * short / gap
    } else {
        short
    }
}

fn longest_duration(jobs: &[Job]) -> u64 {
    jobs.iter().map(|job| job.duration).max().unwrap_or(0)
}

/// Seconds of `[start, start + duration)` inside `[from, to)`.
fn overlap(start: u64, duration: u64, from: u64, to: u64) -> u64 {
    (start + duration).min(to).saturating_sub(start.max(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(arrival: u64, duration: u64) -> Job {
        Job { arrival, duration }
    }

    /// A one-second grid, windows and gaps up to `span` seconds: exact on small examples.
    fn model(slots: u32, boot: u64, wait: u64, span: u64) -> BoundModel {
        BoundModel::new(slots, Duration::from_secs(boot), Duration::from_secs(wait)).grid(
            Duration::from_secs(1),
            Duration::from_secs(span),
            Duration::from_secs(span),
        )
    }

    #[test]
    fn no_jobs_cost_nothing() {
        let bound = offline_bound_with_boot(
            &[],
            &BoundModel::new(4, Duration::from_secs(60), Duration::from_secs(120)),
        );
        assert_eq!(bound.instance_seconds, 0);
        assert!(bound.windows.is_empty());
    }

    #[test]
    fn one_job_pays_one_boot() {
        // Launch at 5, in service at 10, run 10..20, release at 20: 15 instance-seconds, and no run
        // does better.
        let bound = offline_bound_with_boot(&[job(10, 10)], &model(1, 5, 0, 40));
        assert_eq!(bound.work_instance_seconds, 10);
        assert_eq!(bound.instance_seconds, 15);
    }

    #[test]
    fn a_long_gap_pays_a_second_boot() {
        // Two jobs 90 s apart, boot 5 s: booting twice (15 + 15) beats keeping the instance
        // through the 80 s gap (5 + 100); the bound finds 30.
        let bound = offline_bound_with_boot(&[job(10, 10), job(100, 10)], &model(1, 5, 0, 100));
        assert_eq!(bound.instance_seconds, 30);
        let terms: u64 = bound.windows.iter().map(|w| w.slot_seconds).sum();
        assert_eq!(terms, 10);
        assert_eq!(bound.windows.last().map(|w| w.slot_seconds), Some(5));
    }

    #[test]
    fn a_short_gap_pays_its_idle_seconds() {
        // A 2 s gap, boot 5 s: keeping the instance idle 2 s (5 + 22 = 27) beats booting again
        // (30); the bound finds 27.
        let bound = offline_bound_with_boot(&[job(10, 10), job(22, 10)], &model(1, 5, 0, 40));
        assert_eq!(bound.instance_seconds, 27);
    }

    #[test]
    fn the_wait_lets_the_work_spread() {
        // Four 10 s jobs at second 10, one slot per instance, boot 5. With L = 0 they need four
        // instances at once: 4 · (5 + 10) = 60. With L = 30 one instance runs them back to back
        // (10, 20, 30, 40; waits 0…30): 5 + 40 = 45, and the bound is at most that.
        let jobs = [job(10, 10), job(10, 10), job(10, 10), job(10, 10)];
        assert_eq!(
            offline_bound_with_boot(&jobs, &model(1, 5, 0, 60)).instance_seconds,
            60
        );
        let spread = offline_bound_with_boot(&jobs, &model(1, 5, 30, 60)).instance_seconds;
        assert_eq!(spread, 45);
    }

    #[test]
    fn the_late_jobs_p99_allows_are_not_counted_as_needed() {
        // 100 one-second jobs at second 10, 99 slots per instance, boot 5, L = 0. p99 ≤ L lets one
        // job wait: one instance runs 99 at 10 and the last at 11, released at 12: 7 instance-
        // seconds. Without that allowance two instances would be needed (12); the bound must not
        // claim it.
        let jobs = vec![job(10, 1); 100];
        let bound = offline_bound_with_boot(&jobs, &model(99, 5, 0, 20));
        assert_eq!(bound.instance_seconds, 7);
        // 99 jobs: no late job allowed, two instances.
        let bound = offline_bound_with_boot(&jobs[..99], &model(98, 5, 0, 20));
        assert_eq!(bound.instance_seconds, 12);
    }

    #[test]
    fn instances_at_the_start_boot_for_free() {
        let jobs = [job(10, 10)];
        let bound = offline_bound_with_boot(&jobs, &model(1, 5, 0, 40).initial_instances(1));
        assert_eq!(bound.instance_seconds, 10);
    }

    #[test]
    fn never_below_the_work_alone() {
        let jobs: Vec<Job> = (0..500).map(|i| job(i * 3 % 700, 1 + i % 37)).collect();
        for wait in [0, 30, 120, 1000] {
            let bound = offline_bound_with_boot(
                &jobs,
                &BoundModel::new(4, Duration::from_secs(60), Duration::from_secs(wait)),
            );
            assert!(bound.instance_seconds >= bound.work_instance_seconds);
            let work: u64 = jobs.iter().map(|j| j.duration).sum();
            assert_eq!(bound.work_instance_seconds, work.div_ceil(4));
        }
    }
}
