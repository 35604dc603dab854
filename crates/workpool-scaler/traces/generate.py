#!/usr/bin/env python3
"""Regenerates the standard arrival traces (deterministic: fixed seeds, Python's own Random).

Format (see crates/workpool-scaler/src/simulate/trace.rs): header `second,arrivals`, then one row per
second with at least one arrival. Arrivals are Poisson with the rate below, per second.

    python3 crates/workpool-scaler/traces/generate.py
"""
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def poisson(rng, rate):
    # Knuth's method; fine for the small per-second rates used here.
    if rate <= 0:
        return 0
    limit, k, p = math.exp(-rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def write(name, seconds, rate, seed):
    rng = random.Random(seed)
    with open(os.path.join(HERE, name + ".csv"), "w") as out:
        out.write(f"# {name}: see generate.py\nsecond,arrivals\n")
        for second in range(seconds):
            n = poisson(rng, rate(second))
            if n:
                out.write(f"{second},{n}\n")


# One hour at 2 messages/s.
write("steady", 3600, lambda t: 2.0, 1)
# One hour at 1 message/s with a ten-minute spike to 10 messages/s from minute 20.
write("spike", 3600, lambda t: 10.0 if 1200 <= t < 1800 else 1.0, 2)
# A day squeezed into four hours: 0.2 messages/s at night, 3 at the midday peak.
write("diurnal", 4 * 3600, lambda t: 0.2 + 2.8 * (1 - math.cos(2 * math.pi * t / (4 * 3600))) / 2, 3)
# Idle for 30 minutes, a 5-minute burst at 8 messages/s, idle 25 minutes, another burst, idle 25.
write(
    "idle-burst",
    5400,
    lambda t: 8.0 if (1800 <= t < 2100 or 3600 <= t < 3900) else 0.0,
    4,
)
