//! The group's past capacity changes, read out of its scaling activities (`DescribeScalingActivities`),
//! so that a restarted controller keeps its cooldowns and stabilization window.
//!
//! Auto Scaling records one activity per instance launched or terminated, and words the change in
//! the activity's cause, for example (from the AWS documentation):
//!
//! ```text
//! At 2015-11-22T15:45:16Z a user request explicitly set group desired capacity changing the desired
//! capacity from 1 to 2.  At 2015-11-22T15:45:34Z an instance was started in response to a difference
//! between desired and actual capacity, increasing the capacity from 1 to 2.
//!
//! At 2023-09-23T06:39:59Z instance i-026e4c9f62c3e448c was taken out of service in response to a
//! user request, shrinking the capacity from 1 to 0.
//! ```
//!
//! A change that launched sixteen instances appears in sixteen activities with the same cause; the
//! change happened at the time its cause names, not when each launch started. Activities come
//! newest first, up to 100 a page, with a `NextToken` for the next page.
//!
//! A group created with instances starts with their launches ("…a user request created an
//! AutoScalingGroup changing the desired capacity from 0 to 1…"), which a controller started soon
//! after reads as a scale-out: the instances the group was created with are not scaled in while
//! they boot, nor before the stabilization window has passed.
//!
//! moto 5.2.5 records no activity (`DescribeScalingActivities` answers an empty list); the
//! emulator records them for `CreateAutoScalingGroup` (a CloudFormation stack's group included),
//! `SetDesiredCapacity`, `UpdateAutoScalingGroup` and `TerminateInstanceInAutoScalingGroup` in the
//! wording above (scripts/emulator.d/scaling_activities.py), and `scaler_aws.rs` restarts a
//! controller against it. The unit tests below read the AWS documentation's own causes,
//! pagination included.

use std::time::SystemTime;

use aws_sdk_autoscaling::types::Activity;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use crate::history::ScalingEvent;

/// Most pages of activities read when rebuilding the history (100 activities each).
pub(crate) const MAX_PAGES: usize = 10;

/// Collects the capacity changes since a point in time out of pages of activities, newest first.
#[derive(Debug)]
pub(crate) struct ActivityReader {
    since: SystemTime,
    events: Vec<ScalingEvent>,
}

impl ActivityReader {
    /// A reader of the changes made at or after `since`.
    pub(crate) fn new(since: SystemTime) -> Self {
        Self {
            since,
            events: Vec::new(),
        }
    }

    /// Takes one page; returns the token of the next page when it is worth reading (the page did
    /// not reach back to `since` and there is one).
    pub(crate) fn page(
        &mut self,
        activities: &[Activity],
        next_token: Option<&str>,
    ) -> Option<String> {
        let mut reached_since = false;
        for activity in activities {
            let started = activity
                .start_time()
                .and_then(|t| SystemTime::try_from(*t).ok());
            if started.is_some_and(|started| started < self.since) {
                reached_since = true;
            }
            let Some(cause) = activity.cause() else {
                continue;
            };
            let Some(change) = parse_cause(cause) else {
                continue;
            };
            let Some(at) = change.at.or(started) else {
                continue;
            };
            if at >= self.since {
                self.events.push(ScalingEvent {
                    at,
                    from: change.from,
                    to: change.to,
                });
            }
        }
        match next_token {
            Some(token) if !reached_since && !token.is_empty() => Some(token.to_owned()),
            _ => None,
        }
    }

    /// The changes found, oldest first, each once.
    pub(crate) fn finish(mut self) -> Vec<ScalingEvent> {
        self.events
            .sort_by_key(|event| (event.at, event.from, event.to));
        self.events.dedup();
        self.events
    }
}

/// One capacity change named in an activity's cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CauseChange {
    /// When the cause says the change was made, if it names a time Auto Scaling's usual way.
    pub(crate) at: Option<SystemTime>,
    /// Capacity before.
    pub(crate) from: u32,
    /// Capacity after.
    pub(crate) to: u32,
}

/// Reads the first capacity change out of an activity's cause ("…changing the desired capacity from
/// 1 to 3…", "…shrinking the capacity from 3 to 2…"), with the time of the sentence that names it
/// ("At 2015-11-22T15:45:16Z …"). `None` when the cause names no change.
pub(crate) fn parse_cause(cause: &str) -> Option<CauseChange> {
    let marker = "capacity from ";
    let found = cause.find(marker)?;
    let mut words = cause[found + marker.len()..].split_whitespace();
    let number = |word: Option<&str>| word?.trim_end_matches(['.', ',']).parse::<u32>().ok();
    let from = number(words.next())?;
    if words.next()? != "to" {
        return None;
    }
    let to = number(words.next())?;
    let at = cause[..found].rfind("At ").and_then(|start| {
        let stamp = cause[start + 3..].split_whitespace().next()?;
        let parsed = DateTime::from_str(stamp.trim_end_matches(','), Format::DateTime).ok()?;
        SystemTime::try_from(parsed).ok()
    });
    Some(CauseChange { at, from, to })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(stamp: &str) -> SystemTime {
        SystemTime::try_from(DateTime::from_str(stamp, Format::DateTime).expect("valid"))
            .expect("representable")
    }

    fn activity(started: &str, cause: &str) -> Activity {
        Activity::builder()
            .activity_id(format!("id-{started}"))
            .auto_scaling_group_name("my-asg")
            .start_time(DateTime::from_str(started, Format::DateTime).expect("valid"))
            .cause(cause)
            .build()
    }

    // Causes as the AWS documentation and CLI examples show them.
    const CREATE_GROUP: &str = "At 2013-08-19T20:53:25Z a user request created an AutoScalingGroup changing the desired capacity from 0 to 1.  At 2013-08-19T20:53:29Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 1.";
    const SET_DESIRED: &str = "At 2015-11-22T15:45:16Z a user request explicitly set group desired capacity changing the desired capacity from 1 to 2.  At 2015-11-22T15:45:34Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2.";
    const UPDATE_GROUP: &str = "At 2020-10-30T19:35:51Z a user request update of AutoScalingGroup constraints to min: 0, max: 16, desired: 16 changing the desired capacity from 0 to 16.  At 2020-10-30T19:36:07Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 16.";
    const TERMINATE_DECREMENT: &str = "At 2023-09-23T06:39:59Z instance i-026e4c9f62c3e448c was taken out of service in response to a user request, shrinking the capacity from 1 to 0.";
    const TERMINATE_ONLY: &str = "At 2016-11-09T11:28:29Z instance i-0abc was taken out of service in response to a user request.";
    const POLICY: &str = "At 2026-04-11T14:02:10Z a monitor alarm cpu-high in state ALARM triggered policy scale-out changing the desired capacity from 2 to 3.";
    const OLD_STYLE: &str = "At 2009-05-28 10:11:35Z trigger kd.tr.1 breached high threshold value for CPUUtilization, 10.0, adjusting the desired capacity from 1 to 2.";

    #[test]
    fn reads_the_change_and_its_time_from_real_causes() {
        assert_eq!(
            parse_cause(CREATE_GROUP),
            Some(CauseChange {
                at: Some(at("2013-08-19T20:53:25Z")),
                from: 0,
                to: 1
            })
        );
        assert_eq!(
            parse_cause(SET_DESIRED),
            Some(CauseChange {
                at: Some(at("2015-11-22T15:45:16Z")),
                from: 1,
                to: 2
            })
        );
        assert_eq!(
            parse_cause(UPDATE_GROUP),
            Some(CauseChange {
                at: Some(at("2020-10-30T19:35:51Z")),
                from: 0,
                to: 16
            })
        );
        assert_eq!(
            parse_cause(TERMINATE_DECREMENT),
            Some(CauseChange {
                at: Some(at("2023-09-23T06:39:59Z")),
                from: 1,
                to: 0
            })
        );
        assert_eq!(parse_cause(POLICY).map(|c| (c.from, c.to)), Some((2, 3)));
        assert_eq!(parse_cause(TERMINATE_ONLY), None);
        // A time not in RFC 3339 is left out; the activity's start time stands in for it.
        assert_eq!(
            parse_cause(OLD_STYLE),
            Some(CauseChange {
                at: None,
                from: 1,
                to: 2
            })
        );
        assert_eq!(parse_cause("capacity from many to few"), None);
    }

    #[test]
    fn one_change_launching_many_instances_is_one_event_at_its_cause_time() {
        let since = at("2020-10-30T19:00:00Z");
        let mut reader = ActivityReader::new(since);
        let launches: Vec<Activity> = (0..16)
            .map(|n| activity(&format!("2020-10-30T19:36:{:02}Z", 9 + n), UPDATE_GROUP))
            .collect();
        assert_eq!(reader.page(&launches, None), None);
        assert_eq!(
            reader.finish(),
            vec![ScalingEvent {
                at: at("2020-10-30T19:35:51Z"),
                from: 0,
                to: 16
            }]
        );
    }

    #[test]
    fn follows_next_token_until_the_pages_reach_back_to_since() {
        let since = at("2023-09-23T06:00:00Z");
        let mut reader = ActivityReader::new(since);
        // Newest first: two scale-ins on the first page, more to read.
        let first = [
            activity(
                "2023-09-23T06:40:30Z",
                "At 2023-09-23T06:40:30Z instance i-2 was taken out of service in response to a user request, shrinking the capacity from 2 to 1.",
            ),
            activity("2023-09-23T06:39:59Z", TERMINATE_DECREMENT.replace("from 1 to 0", "from 3 to 2").as_str()),
        ];
        let token = reader.page(&first, Some("page-2"));
        assert_eq!(token.as_deref(), Some("page-2"));
        // The second page reaches back before `since`: what is older is left out, and there is no
        // reason to read a third page even though a token came with it.
        let second = [
            activity(
                "2023-09-23T06:10:00Z",
                "At 2023-09-23T06:09:58Z a user request explicitly set group desired capacity changing the desired capacity from 1 to 3.",
            ),
            activity(
                "2023-09-23T05:00:00Z",
                "At 2023-09-23T04:59:58Z a user request explicitly set group desired capacity changing the desired capacity from 0 to 1.",
            ),
        ];
        assert_eq!(reader.page(&second, Some("page-3")), None);
        let events = reader.finish();
        assert_eq!(
            events.iter().map(|e| (e.from, e.to)).collect::<Vec<_>>(),
            vec![(1, 3), (3, 2), (2, 1)]
        );
        assert_eq!(events[0].at, at("2023-09-23T06:09:58Z"));
    }

    #[test]
    fn a_last_page_without_a_token_ends_the_reading() {
        let mut reader = ActivityReader::new(SystemTime::UNIX_EPOCH);
        assert_eq!(reader.page(&[], None), None);
        assert_eq!(reader.page(&[], Some("")), None);
        assert!(reader.finish().is_empty());
    }

    #[test]
    fn rebuilt_history_keeps_the_window_and_the_cooldown() {
        let mut reader = ActivityReader::new(at("2015-11-22T15:00:00Z"));
        reader.page(&[activity("2015-11-22T15:45:34Z", SET_DESIRED)], None);
        let history = crate::History::from_scaling_events(&reader.finish());
        assert_eq!(history.last_scale_out(), Some(at("2015-11-22T15:45:16Z")));
        let window_start = at("2015-11-22T15:45:16Z") - Duration::from_secs(1);
        assert_eq!(history.highest_recommendation_since(window_start), Some(2));
    }
}
