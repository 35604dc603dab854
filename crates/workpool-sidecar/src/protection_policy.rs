//! When to turn scale-in protection on and off: a pure, debounced decision over the busy count.
//!
//! Protection goes on at once when a slot becomes busy (an instance terminated mid-job loses work),
//! and off only after every slot has stayed idle for the idle delay, so a steady trickle of short jobs
//! does not flip it (each flip is an Auto Scaling request).

use std::time::Duration;

use tokio::time::Instant;

/// The debounced protection decision. Feed it the busy count whenever it changes (and at the deadline
/// it asks for); it says when the instance's protection should change.
#[derive(Debug, Clone)]
pub struct ProtectionPolicy {
    idle_delay: Duration,
    protected: Option<bool>,
    idle_since: Option<Instant>,
}

impl ProtectionPolicy {
    /// A policy that turns protection off after `idle_delay` of idleness. The current protection is
    /// unknown at first, so an idle start turns it off once (clearing what a previous run left on).
    pub fn new(idle_delay: Duration) -> Self {
        Self {
            idle_delay,
            protected: None,
            idle_since: None,
        }
    }

    /// The protection the instance should have now, when it differs from what was last applied; `None`
    /// means leave it.
    pub fn decide(&mut self, busy: usize, now: Instant) -> Option<bool> {
        if busy > 0 {
            self.idle_since = None;
            return (self.protected != Some(true)).then_some(true);
        }
        let idle_since = *self.idle_since.get_or_insert(now);
        let settled = now.saturating_duration_since(idle_since) >= self.idle_delay;
        (settled && self.protected != Some(false)).then_some(false)
    }

    /// Records that protection is now `protected` (the request succeeded).
    pub fn applied(&mut self, protected: bool) {
        self.protected = Some(protected);
    }

    /// The protection last applied, if any.
    pub fn protected(&self) -> Option<bool> {
        self.protected
    }

    /// When to look again if nothing changes: the end of the idle delay while protection is still to
    /// be turned off, else never.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.idle_since, self.protected) {
            (Some(since), protected) if protected != Some(false) => Some(since + self.idle_delay),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_secs(10);

    #[test]
    fn busy_protects_at_once_and_only_once() {
        let now = Instant::now();
        let mut policy = ProtectionPolicy::new(DELAY);
        assert_eq!(policy.decide(1, now), Some(true));
        policy.applied(true);
        assert_eq!(policy.decide(3, now), None);
    }

    #[test]
    fn idle_unprotects_only_after_the_delay() {
        let start = Instant::now();
        let mut policy = ProtectionPolicy::new(DELAY);
        policy.decide(1, start);
        policy.applied(true);
        assert_eq!(policy.decide(0, start), None);
        assert_eq!(policy.next_deadline(), Some(start + DELAY));
        assert_eq!(policy.decide(0, start + DELAY / 2), None);
        assert_eq!(policy.decide(0, start + DELAY), Some(false));
        policy.applied(false);
        assert_eq!(policy.decide(0, start + DELAY * 2), None);
        assert_eq!(policy.next_deadline(), None);
    }

    #[test]
    fn a_short_busy_spell_restarts_the_idle_delay() {
        let start = Instant::now();
        let mut policy = ProtectionPolicy::new(DELAY);
        policy.decide(1, start);
        policy.applied(true);
        policy.decide(0, start);
        policy.decide(1, start + DELAY / 2);
        assert_eq!(policy.decide(0, start + DELAY), None);
        assert_eq!(policy.next_deadline(), Some(start + DELAY * 2));
        assert_eq!(policy.decide(0, start + DELAY + DELAY / 2), None);
        assert_eq!(policy.decide(0, start + DELAY * 2), Some(false));
    }

    #[test]
    fn an_idle_start_clears_protection_once_after_the_delay() {
        let start = Instant::now();
        let mut policy = ProtectionPolicy::new(DELAY);
        assert_eq!(policy.decide(0, start), None);
        assert_eq!(policy.decide(0, start + DELAY), Some(false));
    }

    #[test]
    fn a_failed_request_is_asked_for_again() {
        let start = Instant::now();
        let mut policy = ProtectionPolicy::new(DELAY);
        assert_eq!(policy.decide(1, start), Some(true));
        assert_eq!(policy.decide(1, start), Some(true));
    }
}
