from alerts.models.alerts import Alert, AlertEvaluation
from alerts.models.incidents import FollowUpAction, Incident, IncidentEvent, PostMortem
from alerts.models.notifications import DeliveryAttempt, Notification, NotificationLog
from alerts.models.routing import Channel, EscalationPolicy, EscalationStep
from alerts.models.silences import Silence

__all__ = [
    "Alert",
    "AlertEvaluation",
    "Channel",
    "DeliveryAttempt",
    "EscalationPolicy",
    "EscalationStep",
    "FollowUpAction",
    "Incident",
    "IncidentEvent",
    "Notification",
    "NotificationLog",
    "PostMortem",
    "Silence",
]
