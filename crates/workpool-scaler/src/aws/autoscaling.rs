//! Capacity in an EC2 Auto Scaling group.

use std::time::SystemTime;

use aws_sdk_autoscaling::types::LifecycleState;

use super::aws_error;
use crate::error::Error;
use crate::history::ScalingEvent;
use crate::observation::GroupReading;
use crate::ports::Capacity;

/// An Auto Scaling group: `DescribeAutoScalingGroups`, `SetDesiredCapacity`,
/// `TerminateInstanceInAutoScalingGroup` (with decrement) and `DescribeScalingActivities`.
#[derive(Debug, Clone)]
pub struct AutoScalingCapacity {
    client: aws_sdk_autoscaling::Client,
    name: String,
}

impl AutoScalingCapacity {
    /// Finds the group named `name`; [`Error::UnknownGroup`] when it does not exist.
    pub async fn resolve(client: aws_sdk_autoscaling::Client, name: &str) -> Result<Self, Error> {
        let capacity = Self {
            client,
            name: name.to_owned(),
        };
        capacity.describe().await?;
        Ok(capacity)
    }
}

impl Capacity for AutoScalingCapacity {
    fn group_name(&self) -> &str {
        &self.name
    }

    async fn describe(&self) -> Result<GroupReading, Error> {
        let output = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.name)
            .send()
            .await
            .map_err(|e| aws_error("DescribeAutoScalingGroups", &self.name, e))?;
        let Some(group) = output
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(self.name.as_str()))
        else {
            return Err(Error::UnknownGroup(self.name.clone()));
        };
        let count = |value: Option<i32>| value.unwrap_or(0).max(0) as u32;
        let mut reading = GroupReading {
            desired: count(group.desired_capacity()),
            min: count(group.min_size()),
            max: count(group.max_size()),
            ..GroupReading::default()
        };
        for instance in group.instances() {
            match instance.lifecycle_state() {
                Some(LifecycleState::InService) => {
                    reading.in_service += 1;
                    if instance.protected_from_scale_in() == Some(true) {
                        reading.busy += 1;
                    } else if let Some(id) = instance.instance_id() {
                        reading.idle_instances.push(id.to_owned());
                    }
                }
                Some(state) if state.as_str().starts_with("Pending") => reading.pending += 1,
                _ => {}
            }
        }
        Ok(reading)
    }

    async fn set_desired(&self, desired: u32) -> Result<(), Error> {
        self.client
            .set_desired_capacity()
            .auto_scaling_group_name(&self.name)
            .desired_capacity(desired.min(i32::MAX as u32) as i32)
            .honor_cooldown(false)
            .send()
            .await
            .map_err(|e| aws_error("SetDesiredCapacity", &self.name, e))?;
        Ok(())
    }

    async fn terminate_with_decrement(&self, instance_id: &str) -> Result<(), Error> {
        self.client
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance_id)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map_err(|e| aws_error("TerminateInstanceInAutoScalingGroup", instance_id, e))?;
        Ok(())
    }

    async fn scaling_events(&self, since: SystemTime) -> Result<Vec<ScalingEvent>, Error> {
        let output = self
            .client
            .describe_scaling_activities()
            .auto_scaling_group_name(&self.name)
            .max_records(100)
            .send()
            .await
            .map_err(|e| aws_error("DescribeScalingActivities", &self.name, e))?;
        let mut events = Vec::new();
        for activity in output.activities() {
            let Some(at) = activity
                .start_time()
                .and_then(|t| SystemTime::try_from(*t).ok())
            else {
                continue;
            };
            if at < since {
                continue;
            }
            if let Some((from, to)) = activity.cause().and_then(parse_scaling_cause) {
                events.push(ScalingEvent { at, from, to });
            }
        }
        Ok(events)
    }
}

/// Reads the capacity change out of a scaling activity's cause, as Auto Scaling words it: "…changing
/// the desired capacity from 1 to 3…", "…increasing the capacity from 1 to 3…", "…shrinking the
/// capacity from 3 to 2…". `None` when the cause states no change.
pub fn parse_scaling_cause(cause: &str) -> Option<(u32, u32)> {
    let start = cause.find("capacity from ")? + "capacity from ".len();
    let mut words = cause[start..].split_whitespace();
    let from = words.next()?.trim_end_matches(['.', ',']).parse().ok()?;
    if words.next()? != "to" {
        return None;
    }
    let to = words.next()?.trim_end_matches(['.', ',']).parse().ok()?;
    Some((from, to))
}

#[cfg(test)]
mod tests {
    use super::parse_scaling_cause;

    #[test]
    fn reads_the_change_from_auto_scaling_causes() {
        assert_eq!(
            parse_scaling_cause(
                "At 2024-05-01T10:00:00Z a user request explicitly set group desired capacity changing the desired capacity from 1 to 3.  At 2024-05-01T10:00:05Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 3."
            ),
            Some((1, 3))
        );
        assert_eq!(
            parse_scaling_cause(
                "At 2024-05-01T10:00:00Z, instance i-0abc was taken out of service in response to a user request, shrinking the capacity from 3 to 2."
            ),
            Some((3, 2))
        );
        assert_eq!(
            parse_scaling_cause("At 2024-05-01T10:00:00Z an instance was taken out of service."),
            None
        );
    }
}
