//! The controller for one scaling target: read, decide, publish, apply — the I/O around [`decide`].

use std::time::{Duration, SystemTime};

use tracing::{debug, info, warn};

use crate::decide::decide;
use crate::decision::{Decision, Reason};
use crate::history::History;
use crate::observation::{Observation, ReadError};
use crate::policy::Policy;
use crate::ports::{Capacity, MetricsSink, QueueDepth, TickMetrics};

/// How far back scaling activities are read when rebuilding the history after a restart.
const RESTORE_LOOKBACK: Duration = Duration::from_secs(3600);

/// How much further back than the quiet cooldown the published depth is read after a restart: two
/// of CloudWatch's one-minute periods, so that an empty run as long as the cooldown shows whole.
const QUIET_LOOKBACK_MARGIN: Duration = Duration::from_secs(120);

/// One scaling target: a queue, the group that works it, where metrics go, and the policy.
#[derive(Debug)]
pub struct Controller<Q, C, M> {
    queue: Q,
    capacity: C,
    metrics: M,
    policy: Policy,
    history: History,
    dry_run: bool,
    hold_initial_capacity: bool,
    has_read_group: bool,
}

/// What one tick saw, decided and did.
#[derive(Debug, Clone)]
pub struct TickReport {
    /// What was read.
    pub observation: Observation,
    /// What was decided.
    pub decision: Decision,
    /// Whether the decision was applied to the group (false on a hold and in dry-run mode).
    pub applied: bool,
    /// Everything that went wrong this tick (reads, a group whose MinSize is above its MaxSize,
    /// publishing, applying), as text for the log.
    pub errors: Vec<String>,
}

impl<Q: QueueDepth, C: Capacity, M: MetricsSink> Controller<Q, C, M> {
    /// A controller with an empty history, applying its decisions.
    pub fn new(queue: Q, capacity: C, metrics: M, policy: Policy) -> Self {
        Self {
            queue,
            capacity,
            metrics,
            policy,
            history: History::new(),
            dry_run: false,
            hold_initial_capacity: true,
            has_read_group: false,
        }
    }

    /// Decide and log only: publish nothing, change nothing (default false).
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Take the group's desired capacity at the first reading as a recommendation of that
    /// moment (default true), as Kubernetes' horizontal pod autoscaler does: a controller that
    /// starts or restarts in a loop then scales in only once a stabilization window of its own
    /// readings allows it, instead of acting on one reading with an empty window (a noisy low
    /// one would shrink the group and the next readings grow it back). Idle instances still go
    /// after `release_idle_after`, and a drop in the arrivals still ends the window. Turn it off
    /// for one evaluation a run (`workpool scale --once`): every run is a first reading there,
    /// so it would never scale in.
    pub fn hold_initial_capacity(mut self, hold: bool) -> Self {
        self.hold_initial_capacity = hold;
        self
    }

    /// The queue port.
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// The capacity port.
    pub fn capacity(&self) -> &C {
        &self.capacity
    }

    /// What the controller remembers.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Rebuilds the history after a restart (or for a run with `--once`): the cooldowns and the
    /// stabilization window from the group's scaling activities of the last hour, and how long the
    /// queue has been empty from the depth published over the quiet cooldown (and two minutes more),
    /// so that a fresh controller neither waits the quiet cooldown out again nor scales to zero
    /// sooner. What can be read is used even when the other cannot; the first error is returned.
    pub async fn restore(&mut self, now: SystemTime) -> Result<(), crate::Error> {
        let activities_since = now.checked_sub(RESTORE_LOOKBACK).unwrap_or(now);
        let depth_since = now
            .checked_sub(self.policy.rules().zero_cooldown() + QUIET_LOOKBACK_MARGIN)
            .unwrap_or(now);
        let (events, depths) = tokio::join!(
            self.capacity.scaling_events(activities_since),
            self.metrics.published_depth(
                self.queue.queue_name(),
                self.capacity.group_name(),
                depth_since
            )
        );
        let mut first_error = None;
        let history = match events {
            Ok(events) => {
                debug!(
                    group = self.capacity.group_name(),
                    events = events.len(),
                    "history rebuilt from scaling activities"
                );
                History::from_scaling_events(&events)
            }
            Err(error) => {
                first_error = Some(error);
                History::new()
            }
        };
        self.history = match depths {
            Ok(depths) => {
                let history = history.quiet_from_published(&depths, now);
                debug!(
                    queue = self.queue.queue_name(),
                    periods = depths.len(),
                    quiet_for_seconds = history
                        .quiet_since()
                        .and_then(|since| now.duration_since(since).ok())
                        .map(|quiet| quiet.as_secs()),
                    "quiet time read back from the published depth"
                );
                history
            }
            Err(error) => {
                first_error.get_or_insert(error);
                history
            }
        };
        first_error.map_or(Ok(()), Err)
    }

    /// One evaluation at `now`: read the queue and the group, decide, publish the figures, apply the
    /// decision if it changes anything, and remember it.
    pub async fn tick(&mut self, now: SystemTime) -> TickReport {
        let queue_name = self.queue.queue_name().to_owned();
        let group_name = self.capacity.group_name().to_owned();
        let (queue, group) = tokio::join!(self.queue.read(), self.capacity.describe());
        let mut errors = Vec::new();
        let observation = Observation {
            queue: queue.map_err(|e| ReadError::new(e.to_string())),
            group: group.map_err(|e| ReadError::new(e.to_string())),
        };
        if let Ok(group) = &observation.group {
            let window = self.policy.rules().stabilization_window();
            if self.hold_initial_capacity && !self.has_read_group && !window.is_zero() {
                self.history.remember_capacity(now, group.desired);
            }
            self.has_read_group = true;
        }
        let mut decision = decide(&observation, &self.policy, &self.history, now);
        let failed_reads = [
            observation.queue.as_ref().err(),
            observation.group.as_ref().err(),
        ];
        errors.extend(failed_reads.into_iter().flatten().map(ToString::to_string));
        if let Reason::InvalidBounds { min, max } = decision.reason {
            errors.push(
                crate::Error::InvalidGroupBounds {
                    group: group_name.clone(),
                    min,
                    max,
                }
                .to_string(),
            );
        }
        if !errors.is_empty() {
            warn!(queue = %queue_name, group = %group_name, reason = %decision.reason, "hold");
        } else if decision.changes() {
            info!(
                queue = %queue_name,
                group = %group_name,
                from = decision.current,
                to = decision.desired,
                terminate = ?decision.terminate,
                dry_run = self.dry_run,
                reason = %decision.reason,
                "scale"
            );
        } else {
            debug!(queue = %queue_name, group = %group_name, reason = %decision.reason, "no change");
        }

        if !self.dry_run {
            if let Ok(reading) = &observation.queue {
                let metrics = TickMetrics::new(
                    now,
                    &queue_name,
                    &group_name,
                    reading,
                    observation.group.as_ref().ok(),
                    decision.resulting_capacity(),
                );
                if let Err(error) = self.metrics.publish(&metrics).await {
                    warn!(queue = %queue_name, %error, "cannot publish metrics");
                    errors.push(error.to_string());
                }
            }
        }

        let mut applied = false;
        if decision.changes() && !self.dry_run {
            match self.apply(&decision).await {
                Ok(()) => applied = true,
                Err(error) => {
                    warn!(group = %group_name, %error, "cannot apply the decision");
                    errors.push(error.to_string());
                    // Not applied: remember the recommendation, not a scaling time.
                    decision = decision.unapplied();
                }
            }
        }
        self.history.record(now, &observation, &decision);
        TickReport {
            observation,
            decision,
            applied,
            errors,
        }
    }

    /// Terminates the chosen idle instances (each lowering desired by one), then sets the desired
    /// capacity if it is not already what was decided.
    async fn apply(&self, decision: &Decision) -> Result<(), crate::Error> {
        let (Some(current), Some(desired)) = (decision.current, decision.desired) else {
            return Ok(());
        };
        let mut expected = current;
        for instance in &decision.terminate {
            self.capacity.terminate_with_decrement(instance).await?;
            info!(group = self.capacity.group_name(), instance = %instance, "terminated an idle instance");
            expected -= 1;
        }
        if expected != desired {
            self.capacity.set_desired(desired).await?;
        }
        Ok(())
    }
}

/// Evaluates every controller once per `interval` (the first at once, all targets concurrently),
/// handing each round's reports to `on_round`, until `shutdown` completes. A slow round delays the
/// next instead of bunching rounds up.
pub async fn run_every<Q, C, M>(
    controllers: &mut [Controller<Q, C, M>],
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
    mut on_round: impl FnMut(&[Controller<Q, C, M>], &[TickReport]),
) where
    Q: QueueDepth,
    C: Capacity,
    M: MetricsSink,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {
                let reports = tick_all(controllers, SystemTime::now()).await;
                on_round(controllers, &reports);
            }
        }
    }
}

/// Evaluates every controller once at `now`, concurrently; the reports come in the controllers' order.
pub async fn tick_all<Q, C, M>(
    controllers: &mut [Controller<Q, C, M>],
    now: SystemTime,
) -> Vec<TickReport>
where
    Q: QueueDepth,
    C: Capacity,
    M: MetricsSink,
{
    futures::future::join_all(controllers.iter_mut().map(|c| c.tick(now))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{RecordingMetrics, StaticQueueDepth};
    use crate::observation::QueueReading;
    use crate::policy::LatencyTarget;
    use crate::LocalFleet;

    fn policy() -> Policy {
        Policy::latency_target(LatencyTarget::new(
            2,
            Duration::from_secs(60),
            Duration::from_secs(60),
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn a_controller_starting_in_a_loop_holds_the_groups_capacity_for_one_window() {
        // Four instances in service, two of them busy, and two jobs in flight: one reading
        // recommends one instance. A controller that has just started takes the four as a
        // recommendation of its first reading, so the window holds them for 300 s; one run with
        // --once (which turns that off) acts on the reading at once, down to the busy two.
        let rules = crate::ScalingRules::default().release_idle_after(None);
        let queue = StaticQueueDepth::new("jobs");
        queue.set(QueueReading {
            visible: 0,
            not_visible: 2,
            delayed: 0,
        });
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let fleet_of_four = || async {
            let fleet = LocalFleet::new("workers").boot_delay(Duration::ZERO);
            fleet.set_desired(4).await.expect("within bounds");
            let reading = fleet.describe().await.expect("readable");
            for id in reading.idle_instances.iter().take(2) {
                fleet.set_busy(id, true);
            }
            fleet
        };

        let fleet = fleet_of_four().await;
        let mut looping = Controller::new(
            queue.clone(),
            fleet.clone(),
            RecordingMetrics::new(),
            policy().with_rules(rules.clone()),
        );
        let first = looping.tick(start).await;
        assert!(
            matches!(
                first.decision.reason,
                Reason::Stabilizing {
                    recommended: 1,
                    window_high: 4
                }
            ),
            "{}",
            first.decision.reason
        );
        let within = looping.tick(start + Duration::from_secs(285)).await;
        assert!(!within.decision.changes(), "{}", within.decision.reason);
        assert_eq!(fleet.describe().await.expect("readable").desired, 4);
        let past = looping.tick(start + Duration::from_secs(301)).await;
        assert!(past.applied, "{}", past.decision.reason);
        assert_eq!(past.decision.desired, Some(2), "{}", past.decision.reason);

        let fleet = fleet_of_four().await;
        let mut once = Controller::new(
            queue.clone(),
            fleet.clone(),
            RecordingMetrics::new(),
            policy().with_rules(rules),
        )
        .hold_initial_capacity(false);
        let report = once.tick(start).await;
        assert!(report.applied, "{}", report.decision.reason);
        assert_eq!(
            report.decision.desired,
            Some(2),
            "{}",
            report.decision.reason
        );
        assert_eq!(fleet.describe().await.expect("readable").desired, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_instances_still_go_after_the_idle_release_time_when_the_start_is_held() {
        // The same start with the idle release at 60 s and nothing in flight: the window holds
        // the four, but once the first reading is more than 60 s old, instances seen idle since
        // then with nothing waiting go (the quiet cooldown keeps one).
        let rules =
            crate::ScalingRules::default().release_idle_after(Some(Duration::from_secs(60)));
        let queue = StaticQueueDepth::new("jobs");
        let fleet = LocalFleet::new("workers").boot_delay(Duration::ZERO);
        fleet.set_desired(4).await.expect("within bounds");
        let mut controller = Controller::new(
            queue,
            fleet.clone(),
            RecordingMetrics::new(),
            policy().with_rules(rules),
        );
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for second in [0, 15, 30, 45, 60] {
            let held = controller.tick(start + Duration::from_secs(second)).await;
            assert!(
                !held.decision.changes(),
                "{second} s: {}",
                held.decision.reason
            );
        }
        let idle = controller.tick(start + Duration::from_secs(75)).await;
        assert!(
            matches!(
                idle.decision.reason,
                Reason::ReleaseIdle { released: 3, .. }
            ),
            "{}",
            idle.decision.reason
        );
        assert_eq!(fleet.describe().await.expect("readable").desired, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn scales_out_publishes_and_scales_back_in_terminating_idle_instances() {
        let queue = StaticQueueDepth::new("jobs");
        let fleet = LocalFleet::new("workers").boot_delay(Duration::from_secs(10));
        let metrics = RecordingMetrics::new();
        let mut controller =
            Controller::new(queue.clone(), fleet.clone(), metrics.clone(), policy());
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // 8 jobs in flight (the last instance was lost), 4 waiting: 2 slots each, so 4 instances
        // keep up with what is in flight.
        queue.set(QueueReading {
            visible: 4,
            not_visible: 8,
            delayed: 0,
        });
        let out = controller.tick(start).await;
        assert!(out.applied, "{:?}", out.errors);
        assert_eq!(out.decision.desired, Some(4));
        assert_eq!(fleet.describe().await.expect("readable").desired, 4);
        let published = metrics.published();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].visible, 4);
        assert_eq!(published[0].desired_capacity, Some(4));
        assert_eq!(published[0].backlog_per_instance, Some(4.0));

        tokio::time::advance(Duration::from_secs(10)).await;
        queue.set(QueueReading::default());
        // The quiet cooldown keeps one; the window keeps four until 300 s have passed.
        let held = controller.tick(start + Duration::from_secs(15)).await;
        assert!(!held.applied);
        let back_in = controller.tick(start + Duration::from_secs(301)).await;
        assert!(back_in.applied, "{:?}", back_in.errors);
        assert_eq!(back_in.decision.desired, Some(1));
        assert_eq!(back_in.decision.terminate.len(), 3);
        assert_eq!(fleet.describe().await.expect("readable").desired, 1);
        let zero = controller.tick(start + Duration::from_secs(616)).await;
        assert_eq!(zero.decision.desired, Some(0), "{}", zero.decision.reason);
        assert_eq!(fleet.describe().await.expect("readable").desired, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_ticks_every_interval_until_shutdown() {
        let queue = StaticQueueDepth::new("jobs");
        queue.set(QueueReading {
            visible: 2,
            not_visible: 0,
            delayed: 0,
        });
        let fleet = LocalFleet::new("workers");
        let metrics = RecordingMetrics::new();
        let mut controllers = vec![Controller::new(
            queue,
            fleet.clone(),
            metrics.clone(),
            policy(),
        )];
        let mut rounds = 0;
        run_every(
            &mut controllers,
            Duration::from_secs(15),
            tokio::time::sleep(Duration::from_secs(40)),
            |_, reports| {
                rounds += 1;
                assert_eq!(reports.len(), 1);
            },
        )
        .await;
        // Ticks at 0, 15 and 30 s.
        assert_eq!(rounds, 3);
        assert_eq!(metrics.published().len(), 3);
        assert_eq!(fleet.describe().await.expect("readable").desired, 1);
    }

    #[tokio::test]
    async fn dry_run_changes_nothing_and_publishes_nothing() {
        let queue = StaticQueueDepth::new("jobs");
        let fleet = LocalFleet::new("workers");
        let metrics = RecordingMetrics::new();
        let mut controller =
            Controller::new(queue.clone(), fleet.clone(), metrics.clone(), policy()).dry_run(true);
        queue.set(QueueReading {
            visible: 8,
            not_visible: 0,
            delayed: 0,
        });
        let report = controller.tick(SystemTime::now()).await;
        assert_eq!(report.decision.desired, Some(4));
        assert!(!report.applied);
        assert_eq!(fleet.describe().await.expect("readable").desired, 0);
        assert!(metrics.published().is_empty());
    }

    #[tokio::test]
    async fn a_failed_read_holds_and_is_reported() {
        let queue = StaticQueueDepth::new("jobs");
        let fleet = LocalFleet::new("workers");
        fleet.set_desired(2).await.expect("within bounds");
        let metrics = RecordingMetrics::new();
        let mut controller =
            Controller::new(queue.clone(), fleet.clone(), metrics.clone(), policy());
        queue.fail("throttled");
        let report = controller.tick(SystemTime::now()).await;
        assert_eq!(report.decision.desired, None);
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].contains("throttled"));
        assert_eq!(fleet.describe().await.expect("readable").desired, 2);
        assert!(metrics.published().is_empty());
    }

    #[tokio::test]
    async fn a_group_with_min_above_max_holds_and_is_reported() {
        let queue = StaticQueueDepth::new("jobs");
        queue.set(QueueReading {
            visible: 50,
            not_visible: 0,
            delayed: 0,
        });
        let fleet = LocalFleet::new("workers").bounds(5, 2);
        let mut controller =
            Controller::new(queue, fleet.clone(), RecordingMetrics::new(), policy());
        let report = controller.tick(SystemTime::now()).await;
        assert_eq!(report.decision.desired, None);
        assert!(!report.applied);
        assert_eq!(
            report.errors,
            vec!["Auto Scaling group `workers` has MinSize 5 above MaxSize 2"]
        );
        assert_eq!(fleet.describe().await.expect("readable").desired, 0);
    }

    #[tokio::test]
    async fn restore_rebuilds_the_window_from_scaling_events() {
        let fleet = LocalFleet::new("workers");
        fleet.set_desired(5).await.expect("within bounds");
        let mut controller = Controller::new(
            StaticQueueDepth::new("jobs"),
            fleet.clone(),
            RecordingMetrics::new(),
            policy(),
        );
        let now = SystemTime::now();
        controller.restore(now).await.expect("readable");
        assert!(controller.history().last_scale_out().is_some());
        let report = controller.tick(now).await;
        assert!(!report.applied, "{}", report.decision.reason);
        assert_eq!(fleet.describe().await.expect("readable").desired, 5);
    }

    #[tokio::test]
    async fn restore_reads_how_long_the_queue_has_been_empty_from_the_published_depth() {
        // No stabilization window, the default 300 s quiet cooldown.
        let policy = policy()
            .with_rules(crate::ScalingRules::default().scale_in_stabilization(Duration::ZERO));
        let queue = StaticQueueDepth::new("jobs");
        let fleet = LocalFleet::new("workers").boot_delay(Duration::ZERO);
        fleet.set_desired(1).await.expect("within bounds");
        let metrics = RecordingMetrics::new();
        let start = SystemTime::now();
        // A controller sees the queue with messages, then empty, and stops.
        let mut first = Controller::new(
            queue.clone(),
            fleet.clone(),
            metrics.clone(),
            policy.clone(),
        );
        queue.set(QueueReading {
            visible: 0,
            not_visible: 2,
            delayed: 0,
        });
        first.tick(start).await;
        queue.set(QueueReading::default());
        first.tick(start + Duration::from_secs(15)).await;
        assert_eq!(fleet.describe().await.expect("readable").desired, 1);

        // 290 s of quiet published: a fresh controller holds the last instance for 10 s more.
        let early = start + Duration::from_secs(305);
        let mut restarted = Controller::new(
            queue.clone(),
            fleet.clone(),
            metrics.clone(),
            policy.clone(),
        );
        restarted.restore(early).await.expect("readable");
        assert_eq!(
            restarted.history().quiet_since(),
            Some(start + Duration::from_secs(15))
        );
        let held = restarted.tick(early).await;
        assert!(
            matches!(held.decision.reason, Reason::QuietCooldown { remaining } if remaining == Duration::from_secs(10)),
            "{}",
            held.decision.reason
        );

        // Past the cooldown, another fresh controller (a run with --once) scales to zero at once;
        // one that cannot see what was published waits the whole cooldown.
        let late = start + Duration::from_secs(330);
        let mut blind = Controller::new(
            queue.clone(),
            fleet.clone(),
            RecordingMetrics::new(),
            policy.clone(),
        );
        blind.restore(late).await.expect("readable");
        let blind_report = blind.tick(late).await;
        assert!(
            matches!(blind_report.decision.reason, Reason::QuietCooldown { remaining } if remaining == Duration::from_secs(300)),
            "{}",
            blind_report.decision.reason
        );
        let mut informed = Controller::new(queue, fleet.clone(), metrics, policy);
        informed.restore(late).await.expect("readable");
        let report = informed.tick(late).await;
        assert!(
            matches!(report.decision.reason, Reason::ScaleToZero { .. }),
            "{}",
            report.decision.reason
        );
        assert!(report.applied);
        assert_eq!(fleet.describe().await.expect("readable").desired, 0);
    }
}
