//! [`QueueConfig`]: how a [`MemoryQueue`] is set up, and the checks SQS makes on those settings.

use std::time::Duration;

use super::MemoryQueue;
use crate::{Error, MAX_VISIBILITY};

/// The longest a message may be delayed, per queue or per message (SQS's 15-minute limit).
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The highest `maxReceiveCount` a redrive policy may have (SQS's limit).
pub const MAX_RECEIVE_COUNT_LIMIT: u32 = 1000;

/// The longest a queue name may be (SQS's limit, `.fifo` included).
pub const MAX_QUEUE_NAME_LENGTH: usize = 80;

/// The settings of a [`MemoryQueue`], mirroring the SQS queue attributes of the same names.
///
/// Start from [`QueueConfig::standard`] or [`QueueConfig::fifo`] and chain setters;
/// [`MemoryQueue::new`] checks the result.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    name: String,
    fifo: bool,
    visibility_timeout: Duration,
    delay: Duration,
    redrive: Option<(MemoryQueue, u32)>,
    content_based_deduplication: bool,
}

impl QueueConfig {
    /// A standard queue named `name`: at-least-once delivery, no ordering, no deduplication.
    pub fn standard(name: impl Into<String>) -> Self {
        Self::with_kind(name.into(), false)
    }

    /// A FIFO queue named `name`, which must end in `.fifo`: ordered within each message group,
    /// one in-flight batch per group, deduplicated over 5 minutes.
    pub fn fifo(name: impl Into<String>) -> Self {
        Self::with_kind(name.into(), true)
    }

    fn with_kind(name: String, fifo: bool) -> Self {
        Self {
            name,
            fifo,
            visibility_timeout: Duration::from_secs(30),
            delay: Duration::ZERO,
            redrive: None,
            content_based_deduplication: false,
        }
    }

    /// How long a received message stays hidden unless the receive asks otherwise
    /// (`VisibilityTimeout`). Default 30 s, at most 12 h; whole seconds, as in SQS, are not required.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// How long every new message waits before it can be received (`DelaySeconds`).
    /// Default zero, at most 15 minutes.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The redrive policy: a message already received `max_receive_count` times is moved to
    /// `dead_letter_queue` instead of being received again. Default: no redrive.
    /// `max_receive_count` is 1 to 1000; the dead-letter queue must be of the same kind (FIFO or standard).
    pub fn redrive(mut self, dead_letter_queue: MemoryQueue, max_receive_count: u32) -> Self {
        self.redrive = Some((dead_letter_queue, max_receive_count));
        self
    }

    /// FIFO queues only: when a message has no deduplication id, use the SHA-256 of its body
    /// (`ContentBasedDeduplication`). Default off.
    pub fn content_based_deduplication(mut self, enabled: bool) -> Self {
        self.content_based_deduplication = enabled;
        self
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks every setting as SQS would, naming the queue and the setting in the error.
    pub(super) fn validate(self) -> Result<Settings, Error> {
        let invalid = |setting: &'static str, reason: String| Error::InvalidSetting {
            queue: self.name.clone(),
            setting,
            reason,
        };
        check_name(&self.name, self.fifo).map_err(|reason| invalid("QueueName", reason))?;
        if self.visibility_timeout > MAX_VISIBILITY {
            return Err(invalid(
                "VisibilityTimeout",
                format!(
                    "{:?} is longer than the 12-hour maximum",
                    self.visibility_timeout
                ),
            ));
        }
        if self.delay > MAX_DELAY {
            return Err(invalid(
                "DelaySeconds",
                format!("{:?} is longer than the 15-minute maximum", self.delay),
            ));
        }
        if self.content_based_deduplication && !self.fifo {
            return Err(invalid(
                "ContentBasedDeduplication",
                "only FIFO queues deduplicate messages".into(),
            ));
        }
        let redrive = match self.redrive {
            None => None,
            Some((dead_letter_queue, max_receive_count)) => {
                if !(1..=MAX_RECEIVE_COUNT_LIMIT).contains(&max_receive_count) {
                    return Err(invalid(
                        "RedrivePolicy",
                        format!("maxReceiveCount {max_receive_count} is outside 1 to 1000"),
                    ));
                }
                if dead_letter_queue.is_fifo() != self.fifo {
                    return Err(invalid(
                        "RedrivePolicy",
                        format!(
                            "dead-letter queue `{}` must be {} like this queue",
                            dead_letter_queue.name(),
                            if self.fifo {
                                "a FIFO queue"
                            } else {
                                "a standard queue"
                            }
                        ),
                    ));
                }
                Some(Redrive {
                    dead_letter_queue,
                    max_receive_count,
                })
            }
        };
        Ok(Settings {
            name: self.name,
            fifo: self.fifo,
            visibility_timeout: self.visibility_timeout,
            delay: self.delay,
            redrive,
            content_based_deduplication: self.content_based_deduplication,
        })
    }
}

/// Checks a queue name: 1 to 80 characters of letters, digits, `-` and `_`, plus `.fifo` for FIFO queues.
fn check_name(name: &str, fifo: bool) -> Result<(), String> {
    let stem = if fifo {
        name.strip_suffix(".fifo")
            .ok_or_else(|| "a FIFO queue's name must end in `.fifo`".to_string())?
    } else {
        name
    };
    if stem.is_empty() || name.len() > MAX_QUEUE_NAME_LENGTH {
        return Err("a queue name has 1 to 80 characters".into());
    }
    if !stem
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(if !fifo && name.ends_with(".fifo") {
            "only a FIFO queue's name may end in `.fifo`; use QueueConfig::fifo".into()
        } else {
            "a queue name may hold only letters, digits, `-` and `_`".into()
        });
    }
    Ok(())
}

/// A checked [`QueueConfig`].
#[derive(Debug)]
pub(super) struct Settings {
    /// The queue's name.
    pub name: String,
    /// True for a FIFO queue.
    pub fifo: bool,
    /// The default visibility timeout.
    pub visibility_timeout: Duration,
    /// The default delay of new messages.
    pub delay: Duration,
    /// Where poison messages go, if anywhere.
    pub redrive: Option<Redrive>,
    /// FIFO only: deduplicate by body hash when no deduplication id is given.
    pub content_based_deduplication: bool,
}

/// A checked redrive policy.
#[derive(Debug)]
pub(super) struct Redrive {
    /// The dead-letter queue.
    pub dead_letter_queue: MemoryQueue,
    /// Receives allowed before the next one moves the message instead.
    pub max_receive_count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting_error(config: QueueConfig) -> (String, &'static str) {
        match config.validate() {
            Err(Error::InvalidSetting { queue, setting, .. }) => (queue, setting),
            other => panic!("expected InvalidSetting, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_sqs_defaults() {
        let settings = QueueConfig::standard("jobs").validate().unwrap();
        assert_eq!(settings.visibility_timeout, Duration::from_secs(30));
        assert_eq!(settings.delay, Duration::ZERO);
        assert!(settings.redrive.is_none());
        assert!(!settings.fifo);
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            setting_error(QueueConfig::fifo("jobs")),
            ("jobs".into(), "QueueName")
        );
        assert_eq!(
            setting_error(QueueConfig::standard("jobs.fifo")).1,
            "QueueName"
        );
        assert_eq!(setting_error(QueueConfig::standard("")).1, "QueueName");
        assert_eq!(setting_error(QueueConfig::standard("a b")).1, "QueueName");
        assert_eq!(setting_error(QueueConfig::fifo(".fifo")).1, "QueueName");
        assert_eq!(
            setting_error(QueueConfig::standard("x".repeat(81))).1,
            "QueueName"
        );
        assert!(QueueConfig::standard("x".repeat(80)).validate().is_ok());
        assert!(QueueConfig::fifo("Jobs_1-a.fifo").validate().is_ok());
    }

    #[test]
    fn limits_are_checked_and_name_the_queue() {
        let too_long = QueueConfig::standard("jobs")
            .visibility_timeout(MAX_VISIBILITY + Duration::from_secs(1));
        assert_eq!(
            setting_error(too_long),
            ("jobs".into(), "VisibilityTimeout")
        );
        assert!(QueueConfig::standard("jobs")
            .visibility_timeout(MAX_VISIBILITY)
            .validate()
            .is_ok());
        let delayed = QueueConfig::standard("jobs").delay(MAX_DELAY + Duration::from_secs(1));
        assert_eq!(setting_error(delayed).1, "DelaySeconds");
        let dedup = QueueConfig::standard("jobs").content_based_deduplication(true);
        assert_eq!(setting_error(dedup).1, "ContentBasedDeduplication");
    }

    #[test]
    fn redrive_policies_are_checked() {
        let standard_dlq = MemoryQueue::new(QueueConfig::standard("dlq")).unwrap();
        let fifo_dlq = MemoryQueue::new(QueueConfig::fifo("dlq.fifo")).unwrap();
        let zero = QueueConfig::standard("jobs").redrive(standard_dlq.clone(), 0);
        assert_eq!(setting_error(zero).1, "RedrivePolicy");
        let too_many = QueueConfig::standard("jobs").redrive(standard_dlq.clone(), 1001);
        assert_eq!(setting_error(too_many).1, "RedrivePolicy");
        let mixed = QueueConfig::standard("jobs").redrive(fifo_dlq.clone(), 3);
        assert_eq!(setting_error(mixed).1, "RedrivePolicy");
        let mixed = QueueConfig::fifo("jobs.fifo").redrive(standard_dlq.clone(), 3);
        assert_eq!(setting_error(mixed).1, "RedrivePolicy");
        assert!(QueueConfig::standard("jobs")
            .redrive(standard_dlq, 1000)
            .validate()
            .is_ok());
        assert!(QueueConfig::fifo("jobs.fifo")
            .redrive(fifo_dlq, 1)
            .validate()
            .is_ok());
    }
}
