"""A blueprint standing in for the tool-call endpoints that other blueprints will add."""
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_api_key, current_user, require_role, tool_in_scope
from api.errors import abort
from api.ratelimit import call_rate_limit
from models import Tool

blp = Blueprint("probe", __name__, url_prefix="/probe")


@blp.route("/tools/<string:tool_name>/call")
class ProbeCall(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.response(200)
    def post(self, tool_name):
        tool = Tool.get_or_none(Tool.name == tool_name)
        if tool is None or not tool_in_scope(tool.id):
            abort(403, message=f"this API key may not use {tool_name}")
        api_key = current_api_key()
        return {"tool": tool_name, "user": current_user().username, "api_key": api_key.name if api_key else None}


@blp.route("/boom")
class ProbeBoom(MethodView):
    @blp.response(200)
    def get(self):
        raise RuntimeError("secret internal detail")
