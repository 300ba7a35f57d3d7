"""Peewee models, bound late to the configured database (`bind_database`)."""
from models.base import BaseModel, bind_database, db, new_id, open_database, utcnow
from models.crypto import bind_encryption_key
from models.logs import LogEntry
from models.metrics import MetricSample
from models.proxy import ProxySetting, VirtualServer
from models.sessions import Message, Session
from models.tasks import FINAL_STATUSES, Task
from models.tools import Tool
from models.users import ROLES, ApiKey, User

ALL_MODELS = [User, ApiKey, Tool, Task, LogEntry, Session, Message, MetricSample, VirtualServer, ProxySetting]

__all__ = ["ALL_MODELS", "ApiKey", "BaseModel", "FINAL_STATUSES", "LogEntry", "Message", "MetricSample", "ProxySetting",
           "ROLES", "Session", "Task", "Tool", "User", "VirtualServer", "bind_database", "bind_encryption_key", "db",
           "new_id", "open_database", "utcnow"]
