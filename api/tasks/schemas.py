"""Schemas of /api/v1/tasks: jobs (one row each) and stored workflows."""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from api.ids import Id
from api.pagination import PageArgs
from api.schemas import AnyOf, Pattern, StrictSchema, UTCDateTime
from jobs.workflow import WorkflowError, validate_definition
from models.tasks import TASK_STATUSES

# input_required is a live state (the server waits for an answer from its client), never stored in a row.
SHOWN_STATUSES = (*TASK_STATUSES, "input_required")


class TaskSchema(Schema):
    id = fields.String()
    kind = fields.String()
    name = fields.String()
    tool_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    session_id = fields.Integer(allow_none=True)
    parent_id = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(SHOWN_STATUSES)})
    args = fields.Raw(allow_none=True)
    result = fields.Raw(allow_none=True)
    error = fields.String(allow_none=True)
    error_type = fields.String(allow_none=True)
    worker_id = fields.String(allow_none=True)
    definition = fields.Raw(allow_none=True)
    schedule = fields.String(allow_none=True)
    created_at = UTCDateTime(allow_none=True)
    started_at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)
    duration_ms = fields.Float(allow_none=True)
    input_requests = fields.List(fields.Dict(), metadata={
        "description": "While the status is input_required: the server's unanswered questions (the "
                       "input_request events); answer with POST /tasks/{id}/input."})


class AcceptedSchema(Schema):
    task_id = fields.String()
    status = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String())


class InputAnswerSchema(StrictSchema):
    request_id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                               metadata={"description": "The input_request event's request_id."})
    result = fields.Dict(metadata={"description": "The MCP result of the question's method (ElicitResult, "
                                                  "CreateMessageResult or ListRootsResult)."})
    error = fields.Dict(metadata={"description": "Or a JSON-RPC error for the server: {code, message}."})


class TaskListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    kind = fields.String()
    tool_id = Id()
    parent_id = fields.String()
    mine = fields.Boolean(metadata={"description": "Only my tasks."})


class TaskStatusSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": list(SHOWN_STATUSES)})
    error = fields.String(allow_none=True)
    error_type = fields.String(allow_none=True)
    started_at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)
    duration_ms = fields.Float(allow_none=True)


# A cron line's shape (5 fields): the document states it; check_cron then asks APScheduler about ranges
# and steps (min <= max, a step within its field), which no pattern can say.
CRON_SHAPE = r"^[ \t]*[0-9A-Za-z*,/-]+(?:[ \t]+[0-9A-Za-z*,/-]+){4}[ \t]*$"  # [ \t]: \s differs in Python and ECMA


def check_cron(value: str | None) -> None:
    if value is None:
        return
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as error:
        raise ValidationError(f"not a cron expression (5 fields: minute hour day month weekday): {error}")


# A workflow definition (jobs/workflow.py) as schemas, so the document says what validate_definition takes.
# What they cannot say (a tool that exists, step ids unique, `${step}` naming an earlier step) is checked
# by validate_definition itself.
AGGREGATED_NAME = r"^[\s\S]*__[\s\S]+$"  # <tool>__<mcp tool>: something after the first "__"


class _StepSchema(StrictSchema):
    id = fields.String(metadata={"description": "Default: its position (steps[0])"})
    arguments = fields.Dict(metadata={"description": "May hold ${step.path} references to earlier results"})
    timeout = fields.Float(validate=validate.Range(min=0.001), metadata={"description": "Seconds (positive)"})
    continue_on_error = fields.Boolean()


class NamedStepSchema(_StepSchema):
    name = fields.String(required=True, validate=Pattern(AGGREGATED_NAME, error="must be <tool>__<mcp tool>"),
                         metadata={"description": "`<tool>__<mcp tool>`"})


class ToolStepSchema(_StepSchema):
    tool = fields.String(required=True, validate=validate.Length(min=1))
    call = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "The MCP tool"})


def explain_step(value) -> str | None:
    """What is wrong with a step, in the words of the workflow grammar (jobs/workflow.py)."""
    try:
        validate_definition({"steps": [value]})
    except WorkflowError as error:
        return str(error).removeprefix("steps[0]").lstrip(":. ") or None
    return None


def step_field(*shapes) -> AnyOf:
    return AnyOf(*shapes, explain=explain_step)


class ParallelStepsSchema(StrictSchema):
    parallel = fields.List(step_field(NamedStepSchema, ToolStepSchema), required=True, validate=validate.Length(min=1),
                           metadata={"description": "Steps run at the same time"})


def steps_field(**kwargs) -> fields.List:
    return fields.List(step_field(NamedStepSchema, ToolStepSchema, ParallelStepsSchema), required=True, **kwargs)


class DefinitionSchema(Schema):
    class Meta:
        unknown = INCLUDE  # other keys are kept as they were given

    steps = steps_field(validate=validate.Length(min=1))


class WorkflowWriteSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    definition = fields.Nested(DefinitionSchema, metadata={"description": "{\"steps\": [...]}: see jobs/workflow.py"})
    schedule = fields.String(allow_none=True, validate=[Pattern(CRON_SHAPE, error="not 5 cron fields"), check_cron],
                             metadata={"description": "Cron expression; runs are started by the scheduler."})


class WorkflowCreateSchema(WorkflowWriteSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    definition = fields.Nested(DefinitionSchema, required=True)


class ExecuteSchema(StrictSchema):
    steps = steps_field(validate=validate.Length(min=1, max=100))
    session_id = Id()
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600),
                           metadata={"description": "Seconds for the whole run."})


class StepStatusSchema(Schema):
    id = fields.String()
    tool = fields.String()
    call = fields.String()
    task_id = fields.String()
    status = fields.String()
    is_error = fields.Boolean()
    error = fields.String(allow_none=True)


class RunStatusSchema(TaskStatusSchema):
    kind = fields.String()
    run_id = fields.String(allow_none=True)
    steps = fields.List(fields.Nested(StepStatusSchema))
