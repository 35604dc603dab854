//! Capacity in an EC2 Auto Scaling group.

use std::time::SystemTime;

use aws_sdk_autoscaling::types::LifecycleState;

use super::activities::{ActivityReader, MAX_PAGES};
use super::aws_error;
use crate::error::Error;
use crate::history::ScalingEvent;
use crate::observation::GroupReading;
use crate::ports::Capacity;

/// An Auto Scaling group: `DescribeAutoScalingGroups`, `SetDesiredCapacity`,
/// `TerminateInstanceInAutoScalingGroup` (with decrement) and `DescribeScalingActivities` (every page
/// back to the time asked for; the emulator records them, as moto alone does not).
#[derive(Debug, Clone)]
pub struct AutoScalingCapacity {
    client: aws_sdk_autoscaling::Client,
    name: String,
}

impl AutoScalingCapacity {
    /// Finds the group named `name`: [`Error::UnknownGroup`] when it does not exist,
    /// [`Error::InvalidGroupBounds`] when its MinSize is above its MaxSize.
    pub async fn resolve(client: aws_sdk_autoscaling::Client, name: &str) -> Result<Self, Error> {
        let capacity = Self {
            client,
            name: name.to_owned(),
        };
        let reading = capacity.describe().await?;
        if reading.min > reading.max {
            return Err(Error::InvalidGroupBounds {
                group: capacity.name,
                min: reading.min,
                max: reading.max,
            });
        }
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
        let mut reader = ActivityReader::new(since);
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let output = self
                .client
                .describe_scaling_activities()
                .auto_scaling_group_name(&self.name)
                .max_records(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("DescribeScalingActivities", &self.name, e))?;
            match reader.page(output.activities(), output.next_token()) {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(reader.finish())
    }
}
