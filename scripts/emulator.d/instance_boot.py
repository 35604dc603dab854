"""Instances that boot, which moto's do not: groups tagged `workpool:emulator:boot-seconds`.

moto 5.2.5 puts every instance it launches `InService` at once. Real Auto Scaling launches an
instance into `Pending` and moves it to `InService` once it has booted (and passed any launch
lifecycle hook), counting it toward the group's capacity all along. The controller holds a
scale-in while instances it launched are still booting (`Reason::Booting` in
crates/workpool-scaler/src/decide.rs), and reads `Pending` from `DescribeAutoScalingGroups`
(crates/workpool-scaler/src/aws/autoscaling.rs); only an instance that stays `Pending` for a while
shows either end to end. So this module makes:

- every instance of a group tagged `workpool:emulator:boot-seconds` = N (seconds, a decimal
  number) read `Pending` for N seconds after its launch, then `InService`. Groups without the tag
  keep moto's behaviour, so nothing else moves. A bad value is refused when the group is created
  or tagged (`ValidationError` naming the tag), as AWS refuses a bad parameter;
- a booting instance count toward the group's capacity, as in AWS: raising the desired capacity
  launches only the difference from the instances in service *and* booting (moto counted those in
  service only, and would launch a second instance for each one booting);
- `SetInstanceProtection` refuse an instance that is not `InService`, `EnteringStandby` or
  `Standby` (a booting one), with AWS's `ValidationError` ("The instance i-… is not in InService
  or EnteringStandby or Standby."), changing no instance of the call; moto set it on any. The
  sidecar asks for protection as soon as a job starts, which can be before its instance is in
  service (crates/workpool-sidecar/src/protection_task.rs retries).

A lifecycle state set explicitly afterwards (`EnterStandby`, `ExitStandby`) is read as set.
"""

from __future__ import annotations

import time

from moto.autoscaling import models
from moto.autoscaling.exceptions import ValidationError

BOOT_TAG = "workpool:emulator:boot-seconds"

# The states that count toward a group's capacity (moto's "active" instances).
COUNTED_STATES = ("InService", "Pending")

# The states in which `SetInstanceProtection` accepts an instance.
PROTECTABLE_STATES = ("InService", "EnteringStandby", "Standby")

_applied = False


def boot_seconds(tags) -> float:
    """The boot time a group's `tags` ask for (0 without the tag); ValidationError if bad."""
    for tag in tags or []:
        if tag.get("Key") == BOOT_TAG:
            value = tag.get("Value", "")
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                seconds = -1.0
            if not 0.0 <= seconds < float("inf"):
                raise ValidationError(
                    f"Tag {BOOT_TAG} must be a number of seconds, 0 or more; got {value!r}"
                )
            return seconds
    return 0.0


class _LifecycleState:
    """`InstanceState.lifecycle_state`: `Pending` until the instance's boot has passed, then the
    state moto keeps (`InService` at launch); a state set after the launch is read as set."""

    def __get__(self, state, owner=None):
        if state is None:
            return self
        value = state.__dict__.get("_workpool_lifecycle_state", "InService")
        ready_at = state.__dict__.get("_workpool_ready_at")
        if value == "InService" and ready_at is not None and time.monotonic() < ready_at:
            return "Pending"
        return value

    def __set__(self, state, value) -> None:
        # The launch sets the first state (in `__init__`); any later one ends the boot.
        state.__dict__.pop("_workpool_ready_at", None)
        state.__dict__["_workpool_lifecycle_state"] = value


def _instance_state_init(original):
    def __init__(self, instance, *args, **kwargs):
        original(self, instance, *args, **kwargs)
        group = self.auto_scaling_group
        seconds = boot_seconds(group.tags) if group is not None else 0.0
        if seconds > 0.0:
            self.__dict__["_workpool_ready_at"] = time.monotonic() + seconds

    return __init__


def active_instances(self) -> list:
    """The group's instances that count toward its capacity: in service or booting."""
    return [x for x in self.instance_states if x.lifecycle_state in COUNTED_STATES]


def _create_auto_scaling_group(original):
    def create_auto_scaling_group(self, *args, **kwargs):
        boot_seconds(kwargs.get("tags"))
        return original(self, *args, **kwargs)

    return create_auto_scaling_group


def _create_or_update_tags(original):
    def create_or_update_tags(self, tags):
        boot_seconds(tags)
        return original(self, tags)

    return create_or_update_tags


def _set_instance_protection(original):
    def set_instance_protection(self, group_name, instance_ids, protected_from_scale_in):
        group = self.autoscaling_groups.get(group_name)
        for state in group.instance_states if group is not None else []:
            wanted = state.instance.id in instance_ids
            if wanted and state.lifecycle_state not in PROTECTABLE_STATES:
                raise ValidationError(
                    f"The instance {state.instance.id} is not in InService or EnteringStandby or"
                    " Standby."
                )
        return original(self, group_name, instance_ids, protected_from_scale_in)

    return set_instance_protection


def apply() -> None:
    """Patches moto's Auto Scaling model in this process (once)."""
    global _applied
    if _applied:
        return
    models.InstanceState.lifecycle_state = _LifecycleState()
    models.InstanceState.__init__ = _instance_state_init(models.InstanceState.__init__)
    models.FakeAutoScalingGroup.active_instances = active_instances
    backend = models.AutoScalingBackend
    backend.create_auto_scaling_group = _create_auto_scaling_group(
        backend.create_auto_scaling_group
    )
    backend.create_or_update_tags = _create_or_update_tags(backend.create_or_update_tags)
    backend.set_instance_protection = _set_instance_protection(backend.set_instance_protection)
    _applied = True
