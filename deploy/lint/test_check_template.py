"""Tests of check_template.py: it catches what it claims to, and passes the real template."""

import tempfile
import unittest
from pathlib import Path

import check_template as ct

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "cloudformation" / "workpool.yaml"
UNITS = REPO / "deploy" / "systemd"


def role(*statements):
    return {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {"PolicyName": "p", "PolicyDocument": {"Statement": list(statements)}}
                    ]
                },
            }
        }
    }


def allow(action, resource, **extra):
    return {"Sid": "S", "Effect": "Allow", "Action": action, "Resource": resource, **extra}


class IamTest(unittest.TestCase):
    def test_write_actions_on_every_resource_are_reported(self):
        for action in ["sqs:DeleteMessage", "autoscaling:SetDesiredCapacity", "sqs:*", "*",
                       "s3:GetObject", "sqs:ReceiveMessage", "autoscaling:Describe*"]:
            with self.subTest(action=action):
                problems = ct.iam_problems(role(allow(action, "*")))
                self.assertEqual(len(problems), 1, problems)
                self.assertIn(action, problems[0])

    def test_whole_service_arns_and_lists_and_conditionals_count_as_every_resource(self):
        for resource in [
            ["arn:aws:sqs:us-east-1:123:q", "*"],
            {"Fn::Sub": "arn:${AWS::Partition}:sqs:*:*:*"},
            "arn:aws:s3:::*",
            {"Fn::If": ["C", {"Ref": "AWS::NoValue"}, "*"]},
        ]:
            with self.subTest(resource=resource):
                self.assertEqual(
                    len(ct.iam_problems(role(allow("sqs:SendMessage", resource)))), 1
                )

    def test_a_statement_inside_a_conditional_policy_is_checked(self):
        template = role()
        template["Resources"]["R"]["Properties"]["Policies"] = [
            {"Fn::If": ["C", {"PolicyName": "p", "PolicyDocument": {
                "Statement": [allow("s3:PutObject", "*")]}}, {"Ref": "AWS::NoValue"}]}
        ]
        self.assertEqual(len(ct.iam_problems(template)), 1)

    def test_not_resource_and_not_action_are_reported(self):
        statement = {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::x"}
        self.assertEqual(len(ct.iam_problems(role(statement))), 2)

    def test_put_metric_data_needs_its_namespace_condition(self):
        bare = allow("cloudwatch:PutMetricData", "*")
        self.assertIn("cloudwatch:namespace", ct.iam_problems(role(bare))[0])
        scoped = allow(
            "cloudwatch:PutMetricData", "*",
            Condition={"StringEquals": {"cloudwatch:namespace": "Workpool"}},
        )
        self.assertEqual(ct.iam_problems(role(scoped)), [])

    def test_reads_on_every_resource_and_scoped_writes_pass(self):
        template = role(
            allow(["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"], "*"),
            allow("sqs:DeleteMessage", {"Fn::GetAtt": ["Q", "Arn"]}),
            allow("autoscaling:SetInstanceProtection", {"Fn::Sub": "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/g"}),
            {"Effect": "Deny", "Action": "*", "Resource": "*"},
        )
        self.assertEqual(ct.iam_problems(template), [])

    def test_standalone_policies_are_checked(self):
        template = {"Resources": {"P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "PolicyDocument": {"Statement": allow("sqs:SendMessage", "*")}}}}}
        self.assertEqual(len(ct.iam_problems(template)), 1)


class DriftTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.units = Path(self.dir.name)
        (self.units / "a.service").write_text("[Service]\nExecStart=/bin/true\n")

    def tearDown(self):
        self.dir.cleanup()

    def template(self, unit_body, config="x = 1\n", output="x = 1\n"):
        user_data = (
            "#!/bin/bash\n"
            f"cat > /etc/systemd/system/a.service <<'WORKPOOL_UNIT'\n{unit_body}WORKPOOL_UNIT\n"
            f"cat > /etc/workpool/scale.toml <<'WORKPOOL_CONFIG'\n{config}WORKPOOL_CONFIG\n"
        )
        return {
            "Resources": {"L": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
                "LaunchTemplateData": {"UserData": {"Fn::Base64": {"Fn::Sub": user_data}}}}}},
            "Outputs": {"ControllerConfig": {"Value": {"Fn::Sub": output}}},
        }

    def test_identical_units_and_config_pass(self):
        body = "[Service]\nExecStart=/bin/true\n"
        self.assertEqual(ct.drift_problems(self.template(body), self.units), [])

    def test_a_changed_unit_is_reported(self):
        problems = ct.drift_problems(self.template("[Service]\nExecStart=/bin/false\n"),
                                     self.units)
        self.assertEqual(len(problems), 1)
        self.assertIn("differs", problems[0])

    def test_a_missing_unit_file_is_reported(self):
        (self.units / "a.service").unlink()
        self.assertIn("does not exist",
                      ct.drift_problems(self.template("x\n"), self.units)[0])

    def test_a_config_unlike_the_output_is_reported(self):
        body = "[Service]\nExecStart=/bin/true\n"
        problems = ct.drift_problems(self.template(body, config="x = 2\n"), self.units)
        self.assertEqual(len(problems), 1)
        self.assertIn("ControllerConfig", problems[0])

    def test_stop_timeout_must_follow_the_grace_period(self):
        (self.units / "workpool-sidecar.service").write_text("[Service]\nTimeoutStopSec=45s\n")
        template = {"Parameters": {"GracePeriodSeconds": {"Default": 30}}}
        self.assertEqual(ct.stop_timeout_problems(template, self.units), [])
        template["Parameters"]["GracePeriodSeconds"]["Default"] = 60
        self.assertIn("should be 75s", ct.stop_timeout_problems(template, self.units)[0])


class OtherPolicyKindsTest(unittest.TestCase):
    def test_role_user_and_group_policies_are_checked(self):
        for kind in ["AWS::IAM::RolePolicy", "AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy"]:
            with self.subTest(kind=kind):
                template = {"Resources": {"P": {"Type": kind, "Properties": {
                    "PolicyName": "p",
                    "PolicyDocument": {"Statement": [allow("sqs:DeleteMessage", "*")]}}}}}
                problems = ct.iam_problems(template)
                self.assertEqual(len(problems), 1, problems)
                self.assertIn("sqs:DeleteMessage", problems[0])

    def test_a_managed_policy_from_outside_the_template_is_reported(self):
        for arn in ["arn:aws:iam::aws:policy/AdministratorAccess",
                    {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/PowerUserAccess"},
                    {"Ref": "PolicyArnParameter"}]:
            with self.subTest(arn=arn):
                template = role()
                template["Resources"]["R"]["Properties"]["ManagedPolicyArns"] = [arn]
                problems = ct.iam_problems(template)
                self.assertEqual(len(problems), 1, problems)
                self.assertIn("ManagedPolicyArns", problems[0])

    def test_a_managed_policy_of_the_template_is_checked_as_itself(self):
        template = role()
        template["Resources"]["R"]["Properties"]["ManagedPolicyArns"] = [{"Ref": "M"}]
        template["Resources"]["M"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "PolicyDocument": {"Statement": [allow("sqs:SendMessage", {"Ref": "Queue"})]}}}
        self.assertEqual(ct.iam_problems(template), [])
        template["Resources"]["M"]["Properties"]["PolicyDocument"]["Statement"] = [
            allow("sqs:SendMessage", "*")]
        self.assertEqual(len(ct.iam_problems(template)), 1)


class RealTemplateTest(unittest.TestCase):
    def test_the_shipped_template_passes(self):
        self.assertEqual(ct.check(TEMPLATE, UNITS), [])

    def test_the_shipped_template_has_policies_to_check(self):
        template, _ = ct.decode(str(TEMPLATE))
        documents = list(ct.policy_documents(template["Resources"]))
        self.assertGreaterEqual(len(documents), 5, documents)
        self.assertEqual(len(ct.user_data_texts(template)), 2)


if __name__ == "__main__":
    unittest.main()
