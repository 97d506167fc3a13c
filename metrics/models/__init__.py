from metrics.models.results import ComputationRun, MetricValue

__all__ = ["ComputationRun", "MetricValue"]
