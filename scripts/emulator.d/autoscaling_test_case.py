"""The set-up the Auto Scaling emulator tests share: moto in process, a boto3 client, a launch
configuration named `launch` to create groups from."""

from __future__ import annotations

import unittest

import boto3
from moto import mock_aws


class AutoScalingTestCase(unittest.TestCase):
    """A test case with moto's Auto Scaling mocked for each test, `self.autoscaling` its client,
    and a launch configuration `launch`. Subclasses apply their module's patches before calling
    `super().setUp()`."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.addCleanup(self.mock.stop)
        self.autoscaling = boto3.client(
            "autoscaling",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        self.autoscaling.create_launch_configuration(
            LaunchConfigurationName="launch", ImageId="ami-12c6146b", InstanceType="t2.micro"
        )
