"""Instances of a group tagged with a boot time read Pending until it has passed, count toward the
group's capacity meanwhile, and a bad boot time is refused. Run by scripts/test with the other
emulator tests."""

from __future__ import annotations

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from botocore.exceptions import ClientError  # noqa: E402

import instance_boot  # noqa: E402
from autoscaling_test_case import AutoScalingTestCase  # noqa: E402

# Long enough for the calls right after a launch to come within it on a busy machine.
BOOT = 1.5


class InstanceBootTest(AutoScalingTestCase):
    def setUp(self):
        instance_boot.apply()
        super().setUp()

    def create(self, name, desired, boot=None):
        tags = []
        if boot is not None:
            tags.append(
                {
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                    "Key": instance_boot.BOOT_TAG,
                    "Value": boot,
                    "PropagateAtLaunch": False,
                }
            )
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName="launch",
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=desired,
            AvailabilityZones=["us-east-1a"],
            Tags=tags,
        )

    def states(self, name):
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return sorted(i["LifecycleState"] for i in group["AutoScalingGroups"][0]["Instances"])

    def test_instances_read_pending_until_their_boot_has_passed_then_in_service(self):
        self.create("booting", 2, boot=str(BOOT))
        self.assertEqual(self.states("booting"), ["Pending", "Pending"])
        time.sleep(BOOT + 0.2)
        self.assertEqual(self.states("booting"), ["InService", "InService"])
        # Each instance boots from its own launch: one launched now is Pending beside the others.
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="booting", DesiredCapacity=3)
        self.assertEqual(self.states("booting"), ["InService", "InService", "Pending"])
        instances = self.autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"]
        self.assertEqual(sorted(i["LifecycleState"] for i in instances), self.states("booting"))

    def test_booting_instances_count_toward_the_capacity(self):
        self.create("booting", 2, boot="30")
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="booting", DesiredCapacity=3)
        self.assertEqual(self.states("booting"), ["Pending"] * 3)
        self.autoscaling.set_desired_capacity(AutoScalingGroupName="booting", DesiredCapacity=1)
        self.assertEqual(self.states("booting"), ["Pending"])

    def test_a_group_without_the_tag_is_in_service_at_once(self):
        self.create("plain", 2)
        self.assertEqual(self.states("plain"), ["InService", "InService"])
        self.create("no-boot", 1, boot="0")
        self.assertEqual(self.states("no-boot"), ["InService"])

    def test_a_state_set_during_the_boot_is_read_as_set(self):
        self.create("booting", 1, boot="30")
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["booting"])
        instance = group["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
        self.autoscaling.enter_standby(
            AutoScalingGroupName="booting",
            InstanceIds=[instance],
            ShouldDecrementDesiredCapacity=False,
        )
        # Kept in the capacity, the instance on standby is replaced by one that boots, as in AWS.
        self.assertEqual(self.states("booting"), ["Pending", "Standby"])

    def instance_ids(self, name):
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return [i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]]

    def protected(self, name):
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return [i["ProtectedFromScaleIn"] for i in group["AutoScalingGroups"][0]["Instances"]]

    def test_a_booting_instance_cannot_be_protected_until_it_is_in_service(self):
        self.create("booting", 2, boot=str(BOOT))
        ids = self.instance_ids("booting")
        with self.assertRaises(ClientError) as refused:
            self.autoscaling.set_instance_protection(
                AutoScalingGroupName="booting", InstanceIds=ids, ProtectedFromScaleIn=True
            )
        self.assertEqual(refused.exception.response["Error"]["Code"], "ValidationError")
        self.assertIn(
            f"The instance {ids[0]} is not in InService or EnteringStandby or Standby.",
            str(refused.exception),
        )
        self.assertEqual(self.protected("booting"), [False, False])
        time.sleep(BOOT + 0.2)
        self.autoscaling.set_instance_protection(
            AutoScalingGroupName="booting", InstanceIds=ids, ProtectedFromScaleIn=True
        )
        self.assertEqual(self.protected("booting"), [True, True])

    def test_a_bad_boot_time_is_refused_naming_the_tag(self):
        for bad in ("soon", "-1", "inf", "nan"):
            with self.subTest(value=bad):
                with self.assertRaises(ClientError) as refused:
                    self.create(f"bad-{bad}", 1, boot=bad)
                self.assertIn(instance_boot.BOOT_TAG, str(refused.exception))
                self.assertEqual(
                    self.autoscaling.describe_auto_scaling_groups(
                        AutoScalingGroupNames=[f"bad-{bad}"]
                    )["AutoScalingGroups"],
                    [],
                )
        self.create("tagged-later", 1)
        with self.assertRaises(ClientError) as refused:
            self.autoscaling.create_or_update_tags(
                Tags=[
                    {
                        "ResourceId": "tagged-later",
                        "ResourceType": "auto-scaling-group",
                        "Key": instance_boot.BOOT_TAG,
                        "Value": "later",
                        "PropagateAtLaunch": False,
                    }
                ]
            )
        self.assertIn(instance_boot.BOOT_TAG, str(refused.exception))


if __name__ == "__main__":
    unittest.main()
