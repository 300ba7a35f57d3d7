"""Peewee models, bound late to the configured database (`bind_database`)."""
from models.alerts import Alert, AlertRule, NotificationDelivery, WebhookTarget
from models.base import BaseModel, bind_database, db, new_id, open_database, utcnow
from models.crypto import bind_encryption_key
from models.logs import LogEntry
from models.metrics import MetricRollup, MetricSample
from models.proxy import ProxySetting, VirtualServer
from models.runtime_settings import RuntimeSetting
from models.sessions import Message, Session
from models.tasks import FINAL_STATUSES, Task
from models.tools import Tool
from models.users import ROLES, ApiKey, User

ALL_MODELS = [User, ApiKey, Tool, Task, LogEntry, Session, Message, MetricSample, MetricRollup, VirtualServer, ProxySetting,
              AlertRule, Alert, WebhookTarget, NotificationDelivery, RuntimeSetting]

__all__ = ["ALL_MODELS", "Alert", "AlertRule", "ApiKey", "BaseModel", "FINAL_STATUSES", "LogEntry", "Message",
           "MetricRollup", "MetricSample", "NotificationDelivery", "ProxySetting", "ROLES", "RuntimeSetting", "Session", "Task", "Tool",
           "User", "VirtualServer", "WebhookTarget", "bind_database", "bind_encryption_key", "db", "new_id",
           "open_database", "utcnow"]
