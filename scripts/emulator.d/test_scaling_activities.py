"""Scaling activities recorded for the Auto Scaling calls the controller makes, worded as AWS words
them, newest first and paged. Run by scripts/test with the other emulator tests."""

from __future__ import annotations

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scaling_activities  # noqa: E402
from autoscaling_test_case import AutoScalingTestCase  # noqa: E402

# What the controller reads out of a cause (crates/workpool-scaler/src/aws/activities.rs).
CHANGE = re.compile(r"At (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) .*?capacity from (\d+) to (\d+)")


class ScalingActivitiesTest(AutoScalingTestCase):
    def setUp(self):
        scaling_activities.apply()
        super().setUp()
        for name in ("workers", "others"):
            self.autoscaling.create_auto_scaling_group(
                AutoScalingGroupName=name,
                LaunchConfigurationName="launch",
                MinSize=0,
                MaxSize=10,
                DesiredCapacity=0,
                AvailabilityZones=["us-east-1a"],
            )

    def activities(self, group="workers", **extra):
        return self.autoscaling.describe_scaling_activities(AutoScalingGroupName=group, **extra)

    def changes(self, activities):
        found = []
        for activity in activities:
            match = CHANGE.search(activity["Cause"])
            self.assertIsNotNone(match, activity["Cause"])
            found.append((int(match.group(2)), int(match.group(3))))
        return found

    def test_a_group_created_empty_has_none(self):
        self.assertEqual(self.activities()["Activities"], [])

    def test_a_group_created_with_instances_records_their_launches_worded_as_aws_does(self):
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="started",
            LaunchConfigurationName="launch",
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=2,
            AvailabilityZones=["us-east-1a"],
        )
        activities = self.activities("started")["Activities"]
        self.assertEqual(self.changes(activities), [(0, 2)] * 2)
        instances = self.autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=["started"]
        )["AutoScalingGroups"][0]["Instances"]
        self.assertEqual(
            sorted(a["Description"] for a in activities),
            sorted(f"Launching a new EC2 instance: {i['InstanceId']}" for i in instances),
        )
        self.assertRegex(
            activities[0]["Cause"],
            r"^At \S+Z a user request created an AutoScalingGroup changing the desired capacity"
            r" from 0 to 2\.  At \S+Z an instance was started in response to a difference between"
            r" desired and actual capacity, increasing the capacity from 0 to 2\.$",
        )

    def test_set_desired_records_one_activity_per_instance_worded_as_aws_does(self):
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="workers", DesiredCapacity=3)
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="workers", DesiredCapacity=1)
        activities = self.activities()["Activities"]
        # Newest first: the two terminations, then the three launches.
        self.assertEqual(self.changes(activities), [(3, 1)] * 2 + [(0, 3)] * 3)
        launch = activities[-1]
        self.assertTrue(launch["Description"].startswith("Launching a new EC2 instance: i-"))
        self.assertIn(
            "a user request explicitly set group desired capacity changing the desired capacity"
            " from 0 to 3.  At ",
            launch["Cause"],
        )
        self.assertIn("was selected for termination.", activities[0]["Cause"])
        self.assertEqual({a["StatusCode"] for a in activities}, {"Successful"})
        self.assertEqual({a["AutoScalingGroupName"] for a in activities}, {"workers"})
        # The same desired capacity again changes nothing and records nothing.
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="workers", DesiredCapacity=1)
        self.assertEqual(len(self.activities()["Activities"]), 5)
        self.assertEqual(self.activities("others")["Activities"], [])

    def test_terminate_with_and_without_decrement(self):
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="workers", DesiredCapacity=2)
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])
        first, second = [i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]]
        self.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=first, ShouldDecrementDesiredCapacity=True
        )
        newest = self.activities()["Activities"][0]
        self.assertEqual(newest["Description"], f"Terminating EC2 instance: {first}")
        self.assertRegex(
            newest["Cause"],
            rf"^At \S+Z instance {first} was taken out of service in response to a user request,"
            r" shrinking the capacity from 2 to 1\.$",
        )
        self.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=second, ShouldDecrementDesiredCapacity=False
        )
        newest = self.activities()["Activities"][0]
        self.assertTrue(newest["Cause"].endswith("in response to a user request."), newest)
        self.assertIsNone(CHANGE.search(newest["Cause"]))

    def test_update_group_with_a_new_desired_capacity(self):
        self.autoscaling.update_auto_scaling_group(AutoScalingGroupName="workers", DesiredCapacity=2)
        activities = self.activities()["Activities"]
        self.assertEqual(self.changes(activities), [(0, 2)] * 2)
        self.assertIn("constraints to min: 0, max: 10, desired: 2", activities[0]["Cause"])

    def test_pages_of_max_records_with_a_next_token(self):
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="workers", DesiredCapacity=5)
        first = self.activities(MaxRecords=2)
        self.assertEqual(len(first["Activities"]), 2)
        second = self.activities(MaxRecords=2, NextToken=first["NextToken"])
        third = self.activities(MaxRecords=2, NextToken=second["NextToken"])
        self.assertNotIn("NextToken", third)
        ids = [a["ActivityId"] for page in (first, second, third) for a in page["Activities"]]
        self.assertEqual(len(set(ids)), 5)
        every = self.autoscaling.describe_scaling_activities()["Activities"]
        self.assertEqual(len(every), 5)


if __name__ == "__main__":
    unittest.main()
