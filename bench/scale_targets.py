"""The targets of the scale work, judged from one `bench/scale.py` run: printed after the
per-size tables, so that a run says by itself which targets held."""

from __future__ import annotations

from dataclasses import dataclass, field

LOOK_UPS = ("user(by: {externalUserId})", "user(by: {email})", "user(by: {pushRegistrationId}) { channels }")
WRITES = ("updateCustomAttributes (increment)", "saveInstallation (new push token)", "upsertUser (new user)")
MAX_GROWTH = 1.5  # at the largest size, within this multiple of the time at the smallest
MIN_WRITES_PER_SECOND = 50.0  # at the smallest size
MAX_GATEWAY_CPU_MS = 1.0  # per cached simple read


@dataclass
class Measured:
    """What one size's run measured, unformatted."""

    users: int
    median_seconds: dict[str, float] = field(default_factory=dict)  # by request shape
    writes_per_second: float | None = None  # the median of the concurrent rounds
    gateway_cpu_ms: float | None = None  # per cached simple read, the median of the rounds
    cpu_ratios: dict[str, float] = field(default_factory=dict)  # the gateway's over each baseline's, medians


def _verdict(held: bool) -> str:
    return "**yes**" if held else "**no**"


def _growth(smallest: Measured, largest: Measured, shapes: tuple[str, ...]) -> tuple[str, bool] | None:
    parts, held = [], True
    for shape in shapes:
        if shape not in smallest.median_seconds or shape not in largest.median_seconds:
            return None
        before, after = smallest.median_seconds[shape] * 1000, largest.median_seconds[shape] * 1000
        ratio = after / before if before > 0 else float("inf")
        held = held and ratio <= MAX_GROWTH
        parts.append(f"{shape}: {before:.1f} → {after:.1f} ms ({ratio:.2f}x)")
    return "; ".join(parts), held


def print_targets(runs: list[Measured]) -> None:
    """The targets table: growth from the smallest size to the largest, the write rate at the
    smallest, and the gateway's CPU per cached read at each size (with its ratio to each
    baseline, which the same rounds measured)."""
    if not runs:
        return
    smallest, largest = min(runs, key=lambda run: run.users), max(runs, key=lambda run: run.users)
    print("\n### Targets\n")
    print("| target | measured | held |")
    print("|---|---|---|")
    if largest.users > smallest.users:
        span = f"{largest.users:,} users within {MAX_GROWTH}x of {smallest.users:,}"
        for name, shapes in (("identifier look-ups", LOOK_UPS), ("single-user writes", WRITES)):
            growth = _growth(smallest, largest, shapes)
            if growth is not None:
                print(f"| {name} at {span} (median) | {growth[0]} | {_verdict(growth[1])} |")
    if smallest.writes_per_second is not None:
        rate = smallest.writes_per_second
        target = f"single-user writes ≥ {MIN_WRITES_PER_SECOND:.0f}/s at {smallest.users:,} users"
        print(f"| {target} | {rate:.1f} writes/s | {_verdict(rate >= MIN_WRITES_PER_SECOND)} |")
    measured = [run for run in sorted(runs, key=lambda run: run.users) if run.gateway_cpu_ms is not None]
    if measured:
        cpu = " / ".join(f"{run.gateway_cpu_ms:.2f}" for run in measured)
        sizes = " / ".join(f"{run.users:,}" for run in measured)
        held = all((run.gateway_cpu_ms or 0.0) <= MAX_GATEWAY_CPU_MS for run in measured)
        target = f"gateway CPU ≤ {MAX_GATEWAY_CPU_MS:g} ms per cached simple read"
        print(f"| {target} | {cpu} ms at {sizes} users | {_verdict(held)} |")
        for baseline in measured[0].cpu_ratios:
            ratios = " / ".join(f"{run.cpu_ratios.get(baseline, float('nan')):.2f}" for run in measured)
            print(f"| (reported) the gateway's CPU / {baseline}'s, same rounds | {ratios} | |")
