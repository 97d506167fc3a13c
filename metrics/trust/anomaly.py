"""Score anomalies (DESIGN.md §5.6): robust jumps, and policy changes that alone unblock.

**Jumps.** For a new score ``s_t`` the change is ``d_t = s_t - s_(t-1)``. Its yardstick is the
trailing ``window`` (48) window-to-window changes before it: their median ``m`` and robust
standard deviation ``sigma = 1.4826 · MAD`` (median absolute deviation, scaled to match a normal
sd). The point is a jump when ``|d_t - m| > k · sigma`` with ``k = 4``. Two guards, documented:

- at least ``min_changes`` (12) earlier changes are needed, else nothing is flagged (too little
  history to know what normal is);
- ``sigma`` is floored at ``sigma_floor`` (0.5 score points), so a perfectly flat series (MAD 0)
  does not flag rounding noise while a real drop of a few points still stands out.

**Policy flips.** The same observations (the exact values a stored score used) are scored and
decided under the old and the new policy (thresholds and weight profile). If the old policy says
``blocked`` and the new one ``ready``, the policy change *alone* unblocked the deployment and
the point is flagged for independent review.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from metrics.trust.readiness import BLOCKED, READY, Decision, decide
from metrics.trust.score import Observation, ScoreResult, Threshold, WeightProfile, compute_score

__all__ = [
    "JUMP_K",
    "JUMP_WINDOW",
    "MAD_TO_SD",
    "JumpCheck",
    "PolicyFlip",
    "check_jump",
    "check_policy_flip",
    "find_jumps",
    "robust_sigma",
]

MAD_TO_SD = 1.4826
JUMP_WINDOW = 48
JUMP_K = 4.0
MIN_CHANGES = 12
SIGMA_FLOOR = 0.5


def robust_sigma(changes: Sequence[float]) -> tuple[float, float]:
    """``(median, 1.4826 · MAD)`` of ``changes``."""
    med = statistics.median(changes)
    mad = statistics.median(abs(c - med) for c in changes)
    return med, MAD_TO_SD * mad


@dataclass(frozen=True)
class JumpCheck:
    flagged: bool
    change: float | None
    median: float | None = None
    sigma: float | None = None
    z: float | None = None
    history: int = 0

    def as_dict(self) -> dict:
        return {
            "change": self.change,
            "median_change": self.median,
            "robust_sd": self.sigma,
            "z": self.z,
            "history": self.history,
            "k": JUMP_K,
        }


def check_jump(
    history: Sequence[float | None],
    value: float | None,
    *,
    window: int = JUMP_WINDOW,
    k: float = JUMP_K,
    min_changes: int = MIN_CHANGES,
    sigma_floor: float = SIGMA_FLOOR,
) -> JumpCheck:
    """Is ``value`` a jump relative to the score series ``history`` (oldest first)?

    Unknown scores (None) in the history are skipped; the change is taken from the last known one.
    """
    known = [float(h) for h in history if h is not None]
    if value is None or not known:
        return JumpCheck(flagged=False, change=None)
    change = float(value) - known[-1]
    changes = [b - a for a, b in itertools.pairwise(known)][-window:]
    if len(changes) < min_changes:
        return JumpCheck(flagged=False, change=change, history=len(changes))
    med, sigma = robust_sigma(changes)
    sigma = max(sigma, sigma_floor)
    z = (change - med) / sigma
    return JumpCheck(flagged=abs(z) > k, change=change, median=med, sigma=sigma, z=z, history=len(changes))


def find_jumps(series: Sequence[float | None], **kwargs: Any) -> list[int]:
    """Indexes of ``series`` that :func:`check_jump` flags against the points before them."""
    return [i for i in range(1, len(series)) if check_jump(series[:i], series[i], **kwargs).flagged]


@dataclass
class PolicyFlip:
    flagged: bool
    old: Decision
    new: Decision
    old_result: ScoreResult
    new_result: ScoreResult
    threshold_changes: dict[str, dict]
    weight_changes: dict[str, Any]

    def as_dict(self) -> dict:
        return {
            "old_readiness": self.old.readiness,
            "new_readiness": self.new.readiness,
            "old_score": self.old.score,
            "new_score": self.new.score,
            "old_reasons": [r["code"] for r in self.old.reasons],
            "threshold_changes": self.threshold_changes,
            "weight_changes": self.weight_changes,
        }


def _with_policies(
    observations: Sequence[Observation], policies: Mapping[str, Threshold]
) -> list[Observation]:
    return [replace(o, policy=policies[o.key]) if o.key in policies else o for o in observations]


def check_policy_flip(
    observations: Sequence[Observation],
    *,
    old_policies: Mapping[str, Threshold],
    new_policies: Mapping[str, Threshold],
    old_profile: WeightProfile,
    new_profile: WeightProfile,
    expected: Mapping[str, str] | None = None,
    **decide_kwargs: Any,
) -> PolicyFlip:
    """Score the same values under both policies; flagged when blocked → ready."""
    old_result = compute_score(_with_policies(observations, old_policies), old_profile, expected=expected)
    new_result = compute_score(_with_policies(observations, new_policies), new_profile, expected=expected)
    old = decide(old_result, **decide_kwargs)
    new = decide(new_result, **decide_kwargs)
    threshold_changes = {
        key: {"old": old_policies[key].as_dict(), "new": new_policies[key].as_dict()}
        for key in sorted(set(old_policies) & set(new_policies))
        if (old_policies[key].warn, old_policies[key].critical, old_policies[key].direction)
        != (new_policies[key].warn, new_policies[key].critical, new_policies[key].direction)
    }
    weight_changes: dict[str, Any] = {}
    if old_profile.as_dict() != new_profile.as_dict():
        weight_changes = {"old": old_profile.as_dict(), "new": new_profile.as_dict()}
    return PolicyFlip(
        flagged=old.readiness == BLOCKED and new.readiness == READY,
        old=old,
        new=new,
        old_result=old_result,
        new_result=new_result,
        threshold_changes=threshold_changes,
        weight_changes=weight_changes,
    )
