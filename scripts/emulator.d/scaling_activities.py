"""Auto Scaling scaling activities, which moto does not record: `DescribeScalingActivities`.

moto 5.2.5 answers `DescribeScalingActivities` with an empty list whatever happened to the group.
Real Auto Scaling records an activity for every instance it launches or terminates, and words the
capacity change in the activity's cause; the controller rebuilds its cooldowns and stabilization
window from those causes after a restart (crates/workpool-scaler/src/aws/activities.rs). So this
module records, in moto's own `Activity` objects and with the causes worded as the AWS
documentation shows them:

- `CreateAutoScalingGroup` (and a CloudFormation stack creating a group) with a desired capacity
  above zero: one activity per instance launched ("At <time>Z a user request created an
  AutoScalingGroup changing the desired capacity from 0 to 2.  At <time>Z an instance was started
  in response to a difference between desired and actual capacity, increasing the capacity from 0
  to 2."); none for a group created empty;
- `SetDesiredCapacity` (and `UpdateAutoScalingGroup` with a new desired capacity): one activity
  per instance launched or terminated ("At <time>Z a user request explicitly set group desired
  capacity changing the desired capacity from 1 to 2.  At <time>Z an instance was started in
  response to a difference between desired and actual capacity, increasing the capacity from 1
  to 2."), or one activity when no instance moved;
- `TerminateInstanceInAutoScalingGroup`: one activity ("At <time>Z instance i-… was taken out of
  service in response to a user request, shrinking the capacity from 2 to 1." with the decrement,
  without the shrinking clause otherwise);

and answers `DescribeScalingActivities` for a group newest first, `MaxRecords` (default and most
100) a page with a `NextToken` for the next, as AWS does.
"""

from __future__ import annotations

from moto.autoscaling import models, responses
from moto.core.utils import utcnow

_applied = False

MAX_RECORDS = 100


def _stamp(moment) -> str:
    """A time the way Auto Scaling writes it in causes: 2015-11-22T15:45:16Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _log(backend) -> dict[str, list]:
    """The activities recorded for `backend`'s groups, by group name, oldest first."""
    log = getattr(backend, "_workpool_activities", None)
    if log is None:
        log = {}
        backend._workpool_activities = log
    return log


def _record(backend, group, description: str, cause: str, moment) -> None:
    activity = models.Activity(
        description,
        cause,
        group,
        start_time=moment,
        end_time=moment,
        status_code="Successful",
    )
    activity.progress = 100
    _log(backend).setdefault(group.name, []).append(activity)


def _instance_ids(group) -> set[str]:
    return {state.instance.id for state in group.instance_states}


def _record_desired_change(backend, group, before: int, ids_before: set[str], request: str) -> None:
    after = group.desired_capacity
    if after == before:
        return
    moment = utcnow()
    at = _stamp(moment)
    ids_after = _instance_ids(group)
    head = f"At {at} {request} changing the desired capacity from {before} to {after}."
    if after > before:
        moved = sorted(ids_after - ids_before)
        tail = (
            f"  At {at} an instance was started in response to a difference between desired and"
            f" actual capacity, increasing the capacity from {before} to {after}."
        )
        label = "Launching a new EC2 instance"
    else:
        moved = sorted(ids_before - ids_after)
        tail = (
            f"  At {at} an instance was taken out of service in response to a difference between"
            f" desired and actual capacity, shrinking the capacity from {before} to {after}."
        )
        label = "Terminating EC2 instance"
    # One activity per instance launched or terminated; one without an instance when none moved.
    for instance in moved or [None]:
        if instance is None:
            description, selected = f"Setting the desired capacity from {before} to {after}", ""
        else:
            description = f"{label}: {instance}"
            selected = (
                f"  At {at} instance {instance} was selected for termination."
                if after < before
                else ""
            )
        _record(backend, group, description, head + tail + selected, moment)


def _create_auto_scaling_group(original):
    def create_auto_scaling_group(self, name, *args, **kwargs):
        group = original(self, name, *args, **kwargs)
        _record_desired_change(
            self, group, 0, set(), "a user request created an AutoScalingGroup"
        )
        return group

    return create_auto_scaling_group


def _set_desired_capacity(original):
    def set_desired_capacity(self, group_name, desired_capacity):
        group = self.autoscaling_groups[group_name]
        before, ids_before = group.desired_capacity, _instance_ids(group)
        result = original(self, group_name, desired_capacity)
        _record_desired_change(
            self, group, before, ids_before, "a user request explicitly set group desired capacity"
        )
        return result

    return set_desired_capacity


def _update_auto_scaling_group(original):
    def update_auto_scaling_group(self, name, *args, **kwargs):
        group = self.autoscaling_groups.get(name)
        before = group.desired_capacity if group is not None else None
        ids_before = _instance_ids(group) if group is not None else set()
        result = original(self, name, *args, **kwargs)
        if group is not None:
            constraints = (
                f"min: {group.min_size}, max: {group.max_size}, desired: {group.desired_capacity}"
            )
            _record_desired_change(
                self,
                group,
                before,
                ids_before,
                f"a user request update of AutoScalingGroup constraints to {constraints}",
            )
        return result

    return update_auto_scaling_group


def _terminate_instance(original):
    def terminate_instance(self, instance_id, should_decrement):
        group = next(
            (
                group
                for group in self.autoscaling_groups.values()
                if instance_id in _instance_ids(group)
            ),
            None,
        )
        before = group.desired_capacity if group is not None else None
        result = original(self, instance_id, should_decrement)
        if group is not None:
            moment = utcnow()
            cause = (
                f"At {_stamp(moment)} instance {instance_id} was taken out of service in response"
                " to a user request"
            )
            if group.desired_capacity < before:
                cause += f", shrinking the capacity from {before} to {group.desired_capacity}."
            else:
                cause += "."
            _record(self, group, f"Terminating EC2 instance: {instance_id}", cause, moment)
        return result

    return terminate_instance


def describe_scaling_activities(self) -> responses.ActionResult:
    """The group's activities (every group's when none is named), newest first, one page."""
    group_name = self._get_param("AutoScalingGroupName")
    wanted_ids = set(self._get_param("ActivityIds", []) or [])
    max_records = min(self._get_int_param("MaxRecords") or MAX_RECORDS, MAX_RECORDS)
    offset = int(self._get_param("NextToken") or 0)
    log = _log(self.autoscaling_backend)
    if group_name:
        activities = list(log.get(group_name, []))
    else:
        activities = [a for recorded in log.values() for a in recorded]
    if wanted_ids:
        activities = [a for a in activities if a.activity_id in wanted_ids]
    activities.sort(key=lambda activity: activity.start_time, reverse=True)
    page = activities[offset : offset + max_records]
    result: dict = {"Activities": page}
    if offset + max_records < len(activities):
        result["NextToken"] = str(offset + max_records)
    return responses.ActionResult(result)


def apply() -> None:
    """Patches moto's Auto Scaling model and responses in this process (once)."""
    global _applied
    if _applied:
        return
    backend = models.AutoScalingBackend
    backend.create_auto_scaling_group = _create_auto_scaling_group(
        backend.create_auto_scaling_group
    )
    backend.set_desired_capacity = _set_desired_capacity(backend.set_desired_capacity)
    backend.update_auto_scaling_group = _update_auto_scaling_group(
        backend.update_auto_scaling_group
    )
    backend.terminate_instance = _terminate_instance(backend.terminate_instance)
    responses.AutoScalingResponse.describe_scaling_activities = describe_scaling_activities
    _applied = True
