"""/api/v1/sessions: each user's sessions and, in each, the history of their calls (one message per
call: tool, arguments, result summary, duration, status). Calls made without a session land in the
user's automatic session."""
from __future__ import annotations

from flask.views import MethodView

from api.bodies import Blueprint
from api.auth import current_user, has_role, require_role, tool_ids_in_scope
from api.errors import abort
from api.pagination import page_schema, paginate
from api.sessions.schemas import (MessageListArgs, MessageSchema, SessionCreateSchema, SessionListArgs, SessionSchema,
                                  SessionWriteSchema)
from models import Message, Session, utcnow
from policy import access as policy

blp = Blueprint("sessions", __name__, url_prefix="/sessions", description="Sessions and their call history")


def own_session(session_id: int) -> Session:
    """A session of the caller (admins may open anyone's); 404 otherwise."""
    session = Session.get_or_none(Session.id == session_id)
    if session is None or not policy.may_open_session(current_user(), session.user_id):
        abort(404, message=f"no session {session_id}")
    return session


@blp.route("")
class Sessions(MethodView):
    @require_role("viewer")
    @blp.arguments(SessionListArgs, location="query")
    @blp.response(200, page_schema(SessionSchema))
    def get(self, args):
        """List my sessions, most recently active first"""
        user = current_user()
        query = Session.select().order_by(Session.last_activity_at.desc(), Session.id.desc())
        if not (args["all_users"] and has_role(user, "admin")):
            query = query.where(Session.user_id == user.id)
        if "is_auto" in args:
            query = query.where(Session.is_auto == args["is_auto"])
        if "q" in args:
            query = query.where(Session.name.contains(args["q"]))
        return paginate(query, args)

    @require_role("operator")
    @blp.arguments(SessionCreateSchema)
    @blp.response(201, SessionSchema)
    def post(self, body):
        """Create a session (pass its id as session_id to calls)"""
        return Session.create(user_id=current_user().id, **body)


@blp.route("/auto")
class AutoSession(MethodView):
    @require_role("operator")
    @blp.response(200, SessionSchema)
    def post(self):
        """My automatic session (created if needed): where calls without a session_id are recorded"""
        user = current_user()
        session = (Session.select().where((Session.user_id == user.id) & (Session.is_auto == True))  # noqa: E712
                   .order_by(Session.id).first())
        return session or Session.create(user_id=user.id, is_auto=True, name="Automatic session")


@blp.route("/<id:session_id>")
class SessionById(MethodView):
    @require_role("viewer")
    @blp.response(200, SessionSchema)
    def get(self, session_id):
        """One session"""
        return own_session(session_id)

    @require_role("operator")
    @blp.arguments(SessionWriteSchema)
    @blp.response(200, SessionSchema)
    def put(self, body, session_id):
        """Rename or describe a session"""
        session = own_session(session_id)
        for field, value in body.items():
            setattr(session, field, value)
        session.updated_at = utcnow()
        session.save()
        return session

    @require_role("operator")
    @blp.response(204)
    def delete(self, session_id):
        """Delete a session and its messages"""
        own_session(session_id).delete_instance(recursive=True)


@blp.route("/<id:session_id>/messages")
class SessionMessages(MethodView):
    @require_role("viewer")
    @blp.arguments(MessageListArgs, location="query")
    @blp.response(200, page_schema(MessageSchema))
    def get(self, args, session_id):
        """The session's calls, oldest first (with an API key: the calls of the tools in its scope)"""
        session = own_session(session_id)
        query = Message.select().where(Message.session == session.id).order_by(Message.id)
        scope = tool_ids_in_scope()  # policy.may_see_message, as a filter
        if scope is not None:
            query = query.where(Message.tool_id.in_(sorted(scope)))
        for field in ("status", "tool_id", "tool_name"):
            if field in args:
                query = query.where(getattr(Message, field) == args[field])
        return paginate(query, args)


def prune_sessions(days: int) -> int:
    """Delete sessions idle for more than `days` days (and their messages); returns how many."""
    from datetime import timedelta

    cutoff = utcnow() - timedelta(days=days)
    stale = [s.id for s in Session.select(Session.id).where(Session.last_activity_at < cutoff)]
    if stale:
        Message.delete().where(Message.session.in_(stale)).execute()
        Session.delete().where(Session.id.in_(stale)).execute()
    return len(stale)
