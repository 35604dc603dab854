"""Checks of deploy/ templates that cfn-lint does not make.

    python check_template.py --units DIR TEMPLATE...

1. IAM: no Allow statement may grant a write action on every resource ("Resource": "*", or an ARN
   whose resource part is only "*"), nor use NotResource or NotAction. Read-only actions (Describe*,
   List*, and Get* outside the data-bearing services) may use "*": those APIs have no resource-level
   permissions. The only other exceptions are actions AWS cannot scope to a resource, allowed only
   with the condition that narrows them (PutMetricData with cloudwatch:namespace). Policies are read
   from AWS::IAM::Policy, ManagedPolicy, RolePolicy, UserPolicy and GroupPolicy resources and from
   the inline Policies of roles, users and groups. A ManagedPolicyArns entry that is not a Ref to a
   policy of the template (so its statements cannot be read here, e.g. an AWS managed policy) is a
   problem too.
2. Drift: every systemd unit that a template's user data writes (`cat > /etc/systemd/system/NAME
   <<'WORKPOOL_UNIT'`) is byte for byte the unit in --units DIR, and the controller configuration
   the user data writes is the template's ControllerConfig output.
3. The units' TimeoutStopSec is the template's default GracePeriodSeconds plus 15 s.

Exits 1 with one line per problem. Templates are read with cfn-lint's decoder (short-form tags).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from cfnlint.decode import decode

# Get* on these services returns data (objects, secrets, parameters, keys), so it needs a resource.
DATA_SERVICES = {"s3", "secretsmanager", "ssm", "kms", "dynamodb", "sqs", "logs"}

# Actions that AWS does not scope to a resource, and the condition key that must narrow them.
UNSCOPABLE_WITH_CONDITION = {"cloudwatch:putmetricdata": "cloudwatch:namespace"}

WHOLE_SERVICE_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:\*$")

STOP_MARGIN_SECONDS = 15

# Resources whose PolicyDocument grants permissions, and identities that carry inline policies.
POLICY_RESOURCES = (
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
)
IDENTITIES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")


def is_read_only(action: str) -> bool:
    """Whether an action only reads metadata (so may apply to every resource)."""
    if "*" in action or ":" not in action:
        return False
    service, name = action.lower().split(":", 1)
    if name.startswith(("describe", "list")):
        return True
    return name.startswith("get") and service not in DATA_SERVICES


def branches(value):
    """The values a template expression can take: both sides of Fn::If; nothing for AWS::NoValue."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Fn::If" and isinstance(inner, list) and len(inner) == 3:
            yield from branches(inner[1])
            yield from branches(inner[2])
            return
        if key == "Ref" and inner == "AWS::NoValue":
            return
    yield value


def as_list(value):
    out = []
    for item in branches(value):
        if isinstance(item, list):
            for element in item:
                out.extend(branches(element))
        else:
            out.append(item)
    return out


def literal(value):
    """The text of a resource: a string, or an Fn::Sub/Fn::Join's template text."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Fn::Sub":
            return str(inner[0] if isinstance(inner, list) else inner)
        if key == "Fn::Join" and isinstance(inner, list) and len(inner) == 2:
            return str(inner[0]).join(literal(part) or "?" for part in as_list(inner[1]))
    return None  # Ref / GetAtt: one resource, never a wildcard


def every_resource(resource) -> bool:
    text = literal(resource)
    if text is None:
        return False
    text = re.sub(r"\$\{AWS::Partition\}", "aws", text)
    return text == "*" or bool(WHOLE_SERVICE_ARN.match(text))


def policy_documents(resources: dict):
    """(where, document) for every IAM policy document granted by the template."""
    for name, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        kind = resource.get("Type", "")
        props = resource.get("Properties") or {}
        if kind in POLICY_RESOURCES:
            yield name, props.get("PolicyDocument")
        if kind in IDENTITIES:
            for policy in as_list(props.get("Policies", [])):
                if isinstance(policy, dict):
                    yield f"{name}/{policy.get('PolicyName', '?')}", policy.get("PolicyDocument")


def unreadable_managed_policies(resources: dict) -> list[str]:
    """A problem for each ManagedPolicyArns entry whose statements this check cannot read."""
    problems = []
    for name, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") not in IDENTITIES:
            continue
        props = resource.get("Properties") or {}
        for arn in as_list(props.get("ManagedPolicyArns", [])):
            ref = arn.get("Ref") if isinstance(arn, dict) and len(arn) == 1 else None
            referenced = resources.get(ref) if isinstance(ref, str) else None
            if isinstance(referenced, dict) and referenced.get("Type") == "AWS::IAM::ManagedPolicy":
                continue  # checked as a resource of this template
            shown = literal(arn) or str(arn)
            problems.append(
                f"{name}: ManagedPolicyArns entry {shown} cannot be checked here; grant it as an "
                "AWS::IAM::ManagedPolicy of this template (or an inline policy) instead"
            )
    return problems


def iam_problems(template: dict) -> list[str]:
    resources = template.get("Resources", {})
    problems = unreadable_managed_policies(resources)
    for where, document in policy_documents(resources):
        for statement in as_list((document or {}).get("Statement", [])):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            label = f"{where}/{statement.get('Sid', '?')}"
            for key in ("NotResource", "NotAction"):
                if key in statement:
                    problems.append(f"{label}: {key} grants more than it names")
            resources = as_list(statement.get("Resource", []))
            if not any(every_resource(r) for r in resources):
                continue
            conditions = statement.get("Condition") or {}
            condition_keys = {
                k.lower() for block in conditions.values() if isinstance(block, dict) for k in block
            }
            for action in as_list(statement.get("Action", [])):
                action = str(action)
                if is_read_only(action):
                    continue
                needed = UNSCOPABLE_WITH_CONDITION.get(action.lower())
                if needed and needed in condition_keys:
                    continue
                reason = (
                    f"needs a {needed} condition" if needed else "write action on every resource"
                )
                problems.append(f'{label}: {action} with "Resource": "*" ({reason})')
    return problems


def user_data_texts(template: dict) -> list[str]:
    texts = []

    def walk(node):
        if isinstance(node, dict):
            if "UserData" in node:
                data = node["UserData"]
                data = data.get("Fn::Base64", data) if isinstance(data, dict) else data
                sub = data.get("Fn::Sub", data) if isinstance(data, dict) else data
                texts.append(str(sub[0] if isinstance(sub, list) else sub))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(template.get("Resources", {}))
    return texts


def heredocs(text: str, marker: str) -> list[tuple[str, str]]:
    """(target path, body) of every `cat > PATH <<'MARKER'` here-document."""
    pattern = re.compile(
        rf"^cat > (\S+) <<'{marker}'\n(.*?)^{marker}$", re.MULTILINE | re.DOTALL
    )
    return [(m.group(1), m.group(2)) for m in pattern.finditer(text)]


def drift_problems(template: dict, units_dir: Path) -> list[str]:
    problems = []
    texts = user_data_texts(template)
    for text in texts:
        for path, body in heredocs(text, "WORKPOOL_UNIT"):
            unit = units_dir / Path(path).name
            if not unit.is_file():
                problems.append(f"user data writes {path}, but {unit} does not exist")
            elif unit.read_text() != body:
                problems.append(
                    f"user data's {path} differs from {unit}: copy the unit into the template"
                )
    output = template.get("Outputs", {}).get("ControllerConfig")
    if output is not None:
        value = output.get("Value", {})
        expected = str(value.get("Fn::Sub", value)) if isinstance(value, dict) else str(value)
        written = [
            body
            for text in texts
            for path, body in heredocs(text, "WORKPOOL_CONFIG")
            if path.endswith("/scale.toml")
        ]
        if written != [expected]:
            problems.append(
                "the controller's user data scale.toml is not the ControllerConfig output"
            )
    return problems


def stop_timeout_problems(template: dict, units_dir: Path) -> list[str]:
    grace = template.get("Parameters", {}).get("GracePeriodSeconds", {}).get("Default")
    if grace is None:
        return []
    wanted = int(grace) + STOP_MARGIN_SECONDS
    problems = []
    for unit in ("workpool-sidecar.service", "workpool-worker.service"):
        path = units_dir / unit
        if not path.is_file():
            continue
        found = re.findall(r"^TimeoutStopSec=(\d+)s?$", path.read_text(), re.MULTILINE)
        if found != [str(wanted)]:
            problems.append(
                f"{path}: TimeoutStopSec should be {wanted}s (grace period {grace}s "
                f"+ {STOP_MARGIN_SECONDS}s), found {found}"
            )
    return problems


def check(path: Path, units_dir: Path) -> list[str]:
    template, matches = decode(str(path))
    if matches or template is None:
        return [f"{path}: cannot be read: {m}" for m in matches] or [f"{path}: empty"]
    problems = (
        iam_problems(template)
        + drift_problems(template, units_dir)
        + stop_timeout_problems(template, units_dir)
    )
    return [f"{path}: {problem}" for problem in problems]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=Path, required=True, help="the systemd units' folder")
    parser.add_argument("templates", type=Path, nargs="+")
    args = parser.parse_args(argv)
    problems = [p for template in args.templates for p in check(template, args.units)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {len(args.templates)} template(s): IAM scoped, units and config in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
