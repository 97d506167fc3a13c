from metrics.models.engine import ComputeWatermark, WindowProfile
from metrics.models.events import DirtyWindow, EventKey, FeatureLayout, PredictionEvent
from metrics.models.ingestion import IngestionRejection, IngestionStat, QuarantinedRecord, RateLimitCounter
from metrics.models.reference import ReferenceDataset, ReferenceRow
from metrics.models.results import ComputationRun, MetricValue
from metrics.models.trust import ScoreAnomaly, TrustScore

__all__ = [
    "ComputationRun",
    "ComputeWatermark",
    "DirtyWindow",
    "EventKey",
    "FeatureLayout",
    "IngestionRejection",
    "IngestionStat",
    "MetricValue",
    "PredictionEvent",
    "QuarantinedRecord",
    "RateLimitCounter",
    "ReferenceDataset",
    "ReferenceRow",
    "ScoreAnomaly",
    "TrustScore",
    "WindowProfile",
]
