//! The controller against the emulator through the real AWS SDK: SQS depth in, CloudWatch metrics out,
//! the Auto Scaling group's desired capacity moved both ways, once and in the loop, for one target
//! and for two in one loop, and a restart that keeps the stabilization window from
//! the group's scaling activities (the group's creation among them) and the quiet time from the
//! depth it published, and a scale-in held while the instances launched are booting.

use std::time::{Duration, SystemTime};

use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_sqs::Client as Sqs;
use workpool_scaler::aws::{AwsClients, AwsController, CloudWatchMetrics};
use workpool_scaler::{
    Error, LatencyTarget, MetricsSink, Policy, QueueReading, Reason, ScalingRules, Thresholds,
    TickMetrics,
};
use workpool_tests::reliability::send_bodies;
use workpool_tests::{
    aws_config, create_group, create_queue, describe_group, unique_name, QueueSpec,
};

async fn desired_capacity(autoscaling: &AutoScaling, name: &str) -> i32 {
    describe_group(autoscaling, name)
        .await
        .desired_capacity()
        .expect("desired capacity")
}

async fn send_messages(sqs: &Sqs, url: &str, count: usize) {
    let bodies: Vec<String> = (0..count).map(|n| format!("job {n}")).collect();
    send_bodies(sqs, url, &bodies).await;
}

/// The tests' latency target (2 slots, T = L = 60 s) with no quiet cooldown and a stabilization
/// window of `window`.
fn policy_with_window(window: Duration) -> Policy {
    Policy::latency_target(LatencyTarget::new(
        2,
        Duration::from_secs(60),
        Duration::from_secs(60),
    ))
    .with_rules(
        ScalingRules::default()
            .scale_in_stabilization(window)
            .scale_to_zero_cooldown(Duration::ZERO),
    )
}

/// Quick rules for tests: no stabilization window, no quiet cooldown.
fn quick_policy() -> Policy {
    policy_with_window(Duration::ZERO)
}

/// [`quick_policy`] with the default stabilization window of 300 s.
fn windowed_policy() -> Policy {
    policy_with_window(Duration::from_secs(300))
}

struct Fixture {
    sqs: Sqs,
    autoscaling: AutoScaling,
    cloudwatch: CloudWatch,
    clients: AwsClients,
    queue_name: String,
    queue_url: String,
    group: String,
    namespace: String,
}

async fn fixture(desired: i32) -> Fixture {
    fixture_booting(desired, Duration::ZERO).await
}

/// A fresh queue and group (of 10 at most, starting at `desired`) whose instances boot for `boot`.
async fn fixture_booting(desired: i32, boot: Duration) -> Fixture {
    let config = aws_config().await;
    let queue_name = unique_name("scaler-jobs");
    let queue = create_queue(&config, &queue_name, QueueSpec::standard()).await;
    let group = unique_name("scaler-workers");
    let autoscaling = AutoScaling::new(&config);
    create_group(&autoscaling, &group, desired, 10, boot).await;
    Fixture {
        sqs: Sqs::new(&config),
        autoscaling,
        cloudwatch: CloudWatch::new(&config),
        clients: AwsClients::from_config(&config),
        queue_name,
        queue_url: queue.url,
        group,
        namespace: unique_name("WorkpoolTest"),
    }
}

impl Fixture {
    async fn controller(&self, policy: Policy) -> AwsController {
        self.clients
            .controller(&self.queue_name, &self.group, &self.namespace, policy)
            .await
            .expect("queue and group exist")
    }

    /// The causes of the group's scaling activities, newest first (one page).
    async fn activity_causes(&self) -> Vec<String> {
        self.autoscaling
            .describe_scaling_activities()
            .auto_scaling_group_name(&self.group)
            .send()
            .await
            .expect("describe scaling activities")
            .activities()
            .iter()
            .map(|activity| activity.cause().unwrap_or_default().to_owned())
            .collect()
    }

    /// The lifecycle state of each of the group's instances, sorted.
    async fn lifecycle_states(&self) -> Vec<String> {
        let mut states: Vec<String> = describe_group(&self.autoscaling, &self.group)
            .await
            .instances()
            .iter()
            .map(|i| {
                i.lifecycle_state()
                    .map_or("none", LifecycleState::as_str)
                    .to_owned()
            })
            .collect();
        states.sort_unstable();
        states
    }

    async fn empty_the_queue(&self) {
        self.sqs
            .purge_queue()
            .queue_url(&self.queue_url)
            .send()
            .await
            .expect("purge");
    }
}

#[tokio::test]
async fn once_publishes_the_depth_and_moves_desired_out_then_in_then_to_zero() {
    let f = fixture(0).await;
    send_messages(&f.sqs, &f.queue_url, 12).await;
    let mut controller = f.controller(quick_policy()).await;

    // 12 waiting, 2 slots, T = L: one slot per message, 6 instances.
    let out = controller.tick(SystemTime::now()).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.applied, "{}", out.decision.reason);
    assert_eq!(out.decision.desired, Some(6));
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 6);

    // The figures landed in CloudWatch, with both dimensions.
    let listed = f
        .cloudwatch
        .list_metrics()
        .namespace(&f.namespace)
        .send()
        .await
        .expect("list metrics");
    let mut names: Vec<&str> = listed
        .metrics()
        .iter()
        .filter_map(Metric::metric_name)
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names,
        vec![
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
            "BacklogPerInstance",
            "DesiredCapacity",
        ]
    );
    for metric in listed.metrics() {
        let mut dimensions: Vec<(&str, &str)> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default(), d.value().unwrap_or_default()))
            .collect();
        dimensions.sort_unstable();
        assert_eq!(
            dimensions,
            vec![
                ("AutoScalingGroupName", f.group.as_str()),
                ("QueueName", f.queue_name.as_str())
            ]
        );
    }
    assert_eq!(
        metric_values(&f, "ApproximateNumberOfMessages").await,
        vec![12.0]
    );
    assert_eq!(metric_values(&f, "DesiredCapacity").await, vec![6.0]);

    // The queue empties: down to one (the quiet cooldown starts now), terminating idle instances.
    f.empty_the_queue().await;
    let scale_in = controller.tick(SystemTime::now()).await;
    assert!(
        scale_in.applied,
        "{} {:?}",
        scale_in.decision.reason, scale_in.errors
    );
    assert_eq!(scale_in.decision.desired, Some(1));
    assert_eq!(scale_in.decision.terminate.len(), 5);
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 1);

    // Still empty after the (zero-length) quiet cooldown: down to zero.
    let zero = controller.tick(SystemTime::now()).await;
    assert!(
        matches!(zero.decision.reason, Reason::ScaleToZero { .. }),
        "{}",
        zero.decision.reason
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 0);
}

/// Every value recorded for one metric of the fixture, through GetMetricData.
async fn metric_values(f: &Fixture, name: &str) -> Vec<f64> {
    metric_values_of(&f.cloudwatch, &f.namespace, &f.queue_name, &f.group, name).await
}

/// Every value recorded for one metric with these dimensions, through GetMetricData.
async fn metric_values_of(
    cloudwatch: &CloudWatch,
    namespace: &str,
    queue: &str,
    group: &str,
    name: &str,
) -> Vec<f64> {
    let now = SystemTime::now();
    let query = MetricDataQuery::builder()
        .id("m0")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(name)
                        .dimensions(Dimension::builder().name("QueueName").value(queue).build())
                        .dimensions(
                            Dimension::builder()
                                .name("AutoScalingGroupName")
                                .value(group)
                                .build(),
                        )
                        .build(),
                )
                .period(60)
                .stat("Maximum")
                .build(),
        )
        .build();
    let output = cloudwatch
        .get_metric_data()
        .metric_data_queries(query)
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(600)).into())
        .send()
        .await
        .expect("get metric data");
    output
        .metric_data_results()
        .iter()
        .flat_map(|result| result.values().to_vec())
        .collect()
}

#[tokio::test]
async fn busy_instances_hold_the_capacity_and_dry_run_changes_nothing() {
    let f = fixture(4).await;
    let busy: Vec<String> = describe_group(&f.autoscaling, &f.group)
        .await
        .instances()
        .iter()
        .take(3)
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    f.autoscaling
        .set_instance_protection()
        .auto_scaling_group_name(&f.group)
        .set_instance_ids(Some(busy.clone()))
        .protected_from_scale_in(true)
        .send()
        .await
        .expect("protect");

    let mut dry = f.controller(quick_policy()).await.dry_run(true);
    let report = dry.tick(SystemTime::now()).await;
    assert_eq!(
        report.decision.desired,
        Some(3),
        "{}",
        report.decision.reason
    );
    assert!(!report.applied);
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 4);

    let mut controller = f.controller(quick_policy()).await;
    let report = controller.tick(SystemTime::now()).await;
    assert!(
        report.applied,
        "{} {:?}",
        report.decision.reason, report.errors
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 3);
    let mut left: Vec<String> = describe_group(&f.autoscaling, &f.group)
        .await
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    left.sort();
    let mut expected = busy;
    expected.sort();
    assert_eq!(left, expected, "only the idle instance was terminated");
}

#[tokio::test]
async fn the_loop_follows_the_queue_over_several_ticks() {
    let f = fixture(0).await;
    send_messages(&f.sqs, &f.queue_url, 4).await;
    let mut controllers = vec![f.controller(quick_policy()).await];
    let mut seen = Vec::new();
    let purge_after_first = async {
        // Let the first tick scale out, then empty the queue for the following ones, and stop once
        // the group is back at zero.
        let out = || async { desired_capacity(&f.autoscaling, &f.group).await == 2 };
        assert!(
            eventually(Duration::from_secs(30), out).await,
            "never scaled out"
        );
        f.empty_the_queue().await;
        let zero = || async { desired_capacity(&f.autoscaling, &f.group).await == 0 };
        eventually(Duration::from_secs(30), zero).await;
    };
    workpool_scaler::run_every(
        &mut controllers,
        Duration::from_secs(1),
        purge_after_first,
        |_, reports| seen.push(reports[0].decision.resulting_capacity()),
    )
    .await;
    assert!(seen.len() >= 3, "{seen:?}");
    assert_eq!(seen[0], Some(2), "{seen:?}");
    assert_eq!(seen.last().copied().flatten(), Some(0), "{seen:?}");
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 0);
}

#[tokio::test]
async fn unknown_queue_and_group_are_named() {
    let config = aws_config().await;
    let clients = AwsClients::from_config(&config);
    let errors = clients
        .controller(
            "no-such-queue-xyz",
            "no-such-group-xyz",
            "Workpool",
            quick_policy(),
        )
        .await
        .expect_err("neither exists");
    let messages: Vec<String> = errors.iter().map(Error::to_string).collect();
    assert_eq!(
        messages,
        vec![
            "queue `no-such-queue-xyz` does not exist",
            "Auto Scaling group `no-such-group-xyz` does not exist"
        ]
    );
}

/// Waits until `done` holds (polling every 200 ms) or `deadline` passes; returns whether it held.
async fn eventually<F, Fut>(deadline: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The highest value recorded for one metric of one queue and group (NaN when there is none).
async fn highest(f: &Fixture, namespace: &str, queue: &str, group: &str, name: &str) -> f64 {
    metric_values_of(&f.cloudwatch, namespace, queue, group, name)
        .await
        .into_iter()
        .fold(f64::NAN, f64::max)
}

#[tokio::test]
async fn two_targets_in_one_loop_each_follow_their_own_queue_and_publish_under_their_own_names() {
    // Target A: a latency target on one queue and group; target B: thresholds on another.
    let a = fixture(0).await;
    let b = fixture(1).await;
    let namespace = unique_name("WorkpoolTwoTargets");
    send_messages(&a.sqs, &a.queue_url, 12).await;
    send_messages(&b.sqs, &b.queue_url, 30).await;
    let thresholds = Policy::thresholds(
        Thresholds::new(5.0, 1.0)
            .step(2)
            .scale_out_cooldown(Duration::ZERO),
    )
    .with_rules(ScalingRules::default().scale_in_stabilization(Duration::ZERO));
    let mut controllers = Vec::new();
    for (f, policy) in [(&a, quick_policy()), (&b, thresholds)] {
        controllers.push(
            f.clients
                .controller(&f.queue_name, &f.group, &namespace, policy)
                .await
                .expect("queue and group exist"),
        );
    }

    // A: 12 waiting, 2 slots, T = L: 6 instances. B: at most 5 waiting per instance, 2 at a time:
    // 1 → 3 → 5 → 7, where 30 / 7 is below 5 and it stays.
    let mut rounds = 0;
    let settled = || async {
        desired_capacity(&a.autoscaling, &a.group).await == 6
            && desired_capacity(&b.autoscaling, &b.group).await == 7
    };
    workpool_scaler::run_every(
        &mut controllers,
        Duration::from_secs(1),
        async {
            eventually(Duration::from_secs(60), settled).await;
        },
        |_, reports| {
            rounds += 1;
            for report in reports {
                assert!(report.errors.is_empty(), "{:?}", report.errors);
            }
        },
    )
    .await;
    assert_eq!(desired_capacity(&a.autoscaling, &a.group).await, 6);
    assert_eq!(desired_capacity(&b.autoscaling, &b.group).await, 7);
    assert!(rounds >= 3, "B needs three scale-outs: {rounds} round(s)");

    // Each target's figures landed under its own QueueName and AutoScalingGroupName.
    for (f, visible, desired) in [(&a, 12.0, 6.0), (&b, 30.0, 7.0)] {
        let metric = |name| highest(f, &namespace, &f.queue_name, &f.group, name);
        assert_eq!(
            metric("ApproximateNumberOfMessages").await,
            visible,
            "{}",
            f.queue_name
        );
        assert_eq!(metric("DesiredCapacity").await, desired, "{}", f.group);
    }
    // And nothing under a mix of the two.
    let crossed = highest(&a, &namespace, &a.queue_name, &b.group, "DesiredCapacity").await;
    assert!(
        crossed.is_nan(),
        "a metric under A's queue and B's group: {crossed}"
    );

    // A's queue empties: A goes to zero; B's queue has not changed, so B stays at 7.
    a.empty_the_queue().await;
    let a_at_zero = || async { desired_capacity(&a.autoscaling, &a.group).await == 0 };
    workpool_scaler::run_every(
        &mut controllers,
        Duration::from_secs(1),
        async {
            eventually(Duration::from_secs(60), a_at_zero).await;
        },
        |_, reports| {
            assert!(
                !reports[1].decision.changes(),
                "B changed: {}",
                reports[1].decision.reason
            );
        },
    )
    .await;
    assert_eq!(desired_capacity(&a.autoscaling, &a.group).await, 0);
    assert_eq!(desired_capacity(&b.autoscaling, &b.group).await, 7);
}

#[tokio::test]
async fn a_group_with_min_above_max_is_refused_at_start_and_held_when_it_turns_so() {
    let f = fixture(2).await;
    send_messages(&f.sqs, &f.queue_url, 12).await;
    let mut controller = f.controller(quick_policy()).await;
    // moto, unlike AWS, accepts bounds that leave no valid capacity.
    f.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&f.group)
        .min_size(5)
        .max_size(2)
        .send()
        .await
        .expect("update the bounds");
    let before = desired_capacity(&f.autoscaling, &f.group).await;

    // A running controller holds and reports it: --once exits non-zero on it.
    let report = controller.tick(SystemTime::now()).await;
    assert_eq!(report.decision.desired, None, "{}", report.decision.reason);
    assert_eq!(
        report.errors,
        vec![format!(
            "Auto Scaling group `{}` has MinSize 5 above MaxSize 2",
            f.group
        )]
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, before);

    // A new one refuses the target before doing anything.
    let errors = f
        .clients
        .controller(&f.queue_name, &f.group, &f.namespace, quick_policy())
        .await
        .expect_err("bounds leave no valid capacity");
    assert!(
        matches!(
            errors.as_slice(),
            [Error::InvalidGroupBounds { min: 5, max: 2, .. }]
        ),
        "{errors:?}"
    );
}

/// The queue deleted, then the group, while a controller runs: each tick holds and says in one line
/// what is missing, not the SDK's whole response.
#[tokio::test]
async fn a_queue_or_group_deleted_while_running_holds_and_is_named_in_one_line() {
    let f = fixture(3).await;
    let mut controller = f.controller(quick_policy()).await;
    f.sqs
        .delete_queue()
        .queue_url(&f.queue_url)
        .send()
        .await
        .expect("delete the queue");
    let report = controller.tick(SystemTime::now()).await;
    assert_eq!(report.decision.desired, None, "{}", report.decision.reason);
    assert_eq!(
        report.decision.reason.to_string(),
        format!(
            "hold: cannot read the queue depth: queue `{}` does not exist",
            f.queue_name
        )
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 3);

    f.autoscaling
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&f.group)
        .force_delete(true)
        .send()
        .await
        .expect("delete the group");
    let report = controller.tick(SystemTime::now()).await;
    assert_eq!(report.decision.desired, None, "{}", report.decision.reason);
    let text = report.errors.join("\n");
    assert!(
        text.contains(&format!("Auto Scaling group `{}` does not exist", f.group)),
        "{text}"
    );
    for error in &report.errors {
        assert!(
            !error.contains('\n') && error.len() < 300 && !error.contains("headers"),
            "an error a log line can hold: {error}"
        );
    }
}

/// A restart in the middle of a stabilization window: the fresh controller reads the scale-out back
/// from the group's scaling activities and holds the capacity as the one that never stopped would;
/// a controller that skips the restore scales in at once.
#[tokio::test]
async fn a_restarted_controller_keeps_the_window_from_the_group_s_scaling_activities() {
    let f = fixture(0).await;
    send_messages(&f.sqs, &f.queue_url, 12).await;
    let mut first = f.controller(windowed_policy()).await;
    let out = first.tick(SystemTime::now()).await;
    assert!(out.applied, "{} {:?}", out.decision.reason, out.errors);
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 6);
    drop(first);
    f.empty_the_queue().await;

    // The group's activities name the change, one per instance launched, in AWS's wording.
    let causes = f.activity_causes().await;
    assert_eq!(causes.len(), 6);
    for cause in &causes {
        assert!(
            cause.contains("changing the desired capacity from 0 to 6."),
            "{cause}"
        );
    }

    // As a run with --once: the first reading's capacity is not held, so only the restored
    // history can hold the group.
    let mut restarted = f
        .controller(windowed_policy())
        .await
        .hold_initial_capacity(false);
    restarted
        .restore(SystemTime::now())
        .await
        .expect("activities readable");
    assert!(restarted.history().last_scale_out().is_some());
    let held = restarted.tick(SystemTime::now()).await;
    assert!(held.errors.is_empty(), "{:?}", held.errors);
    assert!(!held.applied, "{}", held.decision.reason);
    assert!(
        matches!(
            held.decision.reason,
            Reason::Stabilizing { window_high: 6, .. }
        ),
        "{}",
        held.decision.reason
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 6);

    // Without the restore the same tick scales in: the history is what held it.
    let mut forgetful = f
        .controller(windowed_policy())
        .await
        .hold_initial_capacity(false);
    let moved = forgetful.tick(SystemTime::now()).await;
    assert!(moved.applied, "{}", moved.decision.reason);
    assert!(desired_capacity(&f.autoscaling, &f.group).await < 6);
}

/// A group created with instances starts its scaling activities with their launches, worded as AWS
/// words a creation. A controller started right after reads the creation back as a scale-out, so
/// the thresholds policy waits out its scale-out cooldown from it, as AWS's own simple scaling
/// does after a launch; a controller that skips the restore scales out at once.
#[tokio::test]
async fn a_restored_controller_counts_the_group_s_creation_as_a_scale_out() {
    let f = fixture(2).await;
    let causes = f.activity_causes().await;
    assert_eq!(causes.len(), 2);
    for cause in &causes {
        assert!(
            cause.contains(
                "a user request created an AutoScalingGroup changing the desired capacity from 0 to 2."
            ),
            "{cause}"
        );
    }
    send_messages(&f.sqs, &f.queue_url, 30).await;
    let thresholds = || Policy::thresholds(Thresholds::new(5.0, 1.0).step(3));

    let mut restored = f.controller(thresholds()).await;
    restored
        .restore(SystemTime::now())
        .await
        .expect("activities readable");
    let held = restored.tick(SystemTime::now()).await;
    assert!(held.errors.is_empty(), "{:?}", held.errors);
    assert!(!held.applied, "{}", held.decision.reason);
    assert!(
        matches!(held.decision.reason, Reason::ScaleOutCooldown { .. }),
        "{}",
        held.decision.reason
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 2);

    let mut forgetful = f.controller(thresholds()).await;
    let moved = forgetful.tick(SystemTime::now()).await;
    assert!(moved.applied, "{}", moved.decision.reason);
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 5);
}

/// A controller started on an empty queue (after a restart, or each run with `--once`) reads back
/// through CloudWatch's `GetMetricData` how long the depth it published has been zero, so it scales
/// the last instance away once the quiet cooldown has passed instead of waiting it out again; a
/// newer figure with messages in it makes it wait the whole cooldown.
#[tokio::test]
async fn a_restored_controller_counts_the_quiet_published_before_it_started() {
    let f = fixture(1).await;
    let cooldown = Duration::from_secs(90);
    let policy = || {
        Policy::latency_target(LatencyTarget::new(
            2,
            Duration::from_secs(60),
            Duration::from_secs(60),
        ))
        .with_rules(
            ScalingRules::default()
                .scale_in_stabilization(Duration::ZERO)
                .scale_to_zero_cooldown(cooldown),
        )
    };
    let metrics = CloudWatchMetrics::new(f.cloudwatch.clone()).namespace(&f.namespace);
    let figures = |ago: u64, waiting: u64| {
        let reading = QueueReading {
            visible: waiting,
            not_visible: 0,
            delayed: 0,
        };
        TickMetrics::new(
            SystemTime::now() - Duration::from_secs(ago),
            &f.queue_name,
            &f.group,
            &reading,
            None,
            Some(1),
        )
    };
    // Messages four minutes ago, none three minutes and one minute ago.
    for (ago, waiting) in [(240, 6), (180, 0), (60, 0)] {
        metrics
            .publish(&figures(ago, waiting))
            .await
            .expect("publish");
    }
    let depths = metrics
        .published_depth(
            &f.queue_name,
            &f.group,
            SystemTime::now() - Duration::from_secs(300),
        )
        .await
        .expect("read back");
    let most: Vec<u64> = depths.iter().map(|depth| depth.most).collect();
    assert_eq!(most, vec![6, 0, 0], "{depths:?}");

    let mut restored = f.controller(policy()).await;
    restored.restore(SystemTime::now()).await.expect("readable");
    let quiet_for = restored
        .history()
        .quiet_since()
        .and_then(|since| SystemTime::now().duration_since(since).ok())
        .expect("the queue is known to be quiet");
    assert!(
        quiet_for >= cooldown && quiet_for <= Duration::from_secs(180),
        "{quiet_for:?}"
    );
    let zero = restored.tick(SystemTime::now()).await;
    assert!(zero.errors.is_empty(), "{:?}", zero.errors);
    assert!(
        matches!(zero.decision.reason, Reason::ScaleToZero { .. }),
        "{}",
        zero.decision.reason
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 0);

    // Messages half a minute ago: a fresh controller does not know the queue to be quiet.
    f.autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&f.group)
        .desired_capacity(1)
        .send()
        .await
        .expect("set desired");
    metrics.publish(&figures(30, 2)).await.expect("publish");
    let mut wary = f.controller(policy()).await;
    wary.restore(SystemTime::now()).await.expect("readable");
    assert_eq!(wary.history().quiet_since(), None);
    let held = wary.tick(SystemTime::now()).await;
    assert!(
        matches!(held.decision.reason, Reason::QuietCooldown { remaining } if remaining == cooldown),
        "{}",
        held.decision.reason
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 1);
}

/// Instances a scale-out launched are read as booting while they are `Pending` (the emulator keeps
/// a tagged group's instances so for a while, as AWS does while they boot), and the scale-in waits
/// for them: the backlog that called for them is gone before they are in service, but undoing the
/// launch before it lands would only launch again at the next backlog. Once they are in service
/// the same controller scales in, so the boot is what held it.
#[tokio::test]
async fn instances_still_booting_hold_the_scale_in_until_they_are_in_service() {
    // Long enough for the two ticks below to come within it on a busy machine.
    let boot = Duration::from_secs(10);
    let f = fixture_booting(0, boot).await;
    send_messages(&f.sqs, &f.queue_url, 12).await;
    let mut controller = f.controller(windowed_policy()).await;
    let out = controller.tick(SystemTime::now()).await;
    assert!(out.applied, "{} {:?}", out.decision.reason, out.errors);
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 6);
    assert_eq!(f.lifecycle_states().await, vec!["Pending"; 6]);

    f.empty_the_queue().await;
    let held = controller.tick(SystemTime::now()).await;
    assert!(held.errors.is_empty(), "{:?}", held.errors);
    let group = held.observation.group.as_ref().expect("group read");
    assert_eq!((group.pending, group.in_service), (6, 0));
    assert!(!held.applied, "{}", held.decision.reason);
    assert!(
        matches!(held.decision.reason, Reason::Booting { pending: 6 }),
        "{}",
        held.decision.reason
    );
    assert_eq!(desired_capacity(&f.autoscaling, &f.group).await, 6);

    assert!(
        eventually(boot * 6, || async {
            f.lifecycle_states().await == vec!["InService"; 6]
        })
        .await,
        "the instances came into service: {:?}",
        f.lifecycle_states().await
    );
    let moved = controller.tick(SystemTime::now()).await;
    let group = moved.observation.group.as_ref().expect("group read");
    assert_eq!((group.pending, group.in_service), (0, 6));
    assert!(
        moved.applied,
        "{} {:?}",
        moved.decision.reason, moved.errors
    );
    assert!(desired_capacity(&f.autoscaling, &f.group).await < 6);
}
