"""The workflow's updates, one per row of the command table (domain/command_table.py), made from the table."""

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.command_table import COMMANDS, Command
    from domain.trial import Trial
    from domain.view import TrialView
    from domain.workflow_io import CommandOutcome

# A command's answer: small (status and revision); the whole view only from runs without a read model.
Answer = CommandOutcome | TrialView
W = TypeVar("W")


class _Handles(Protocol):
    async def _apply(self, command: Callable[[Trial, Any], None]) -> Answer: ...

    def _check(self, validate: Callable[[Trial, Any], None]) -> None: ...


def with_command_updates(cls: type[W]) -> type[W]:
    """Add one named Temporal update per command of the table to the workflow class, before `workflow.defn`
    reads it: the update's name and description (what staff see and send in the UI) come from the table,
    and its argument's type (what the data converter decodes) is the command's model."""
    for command in COMMANDS:
        setattr(cls, command.update, _update_for(command))
    return cls


def _update_for(command: Command) -> Any:
    async def handler(self: _Handles, c: BaseModel) -> Answer:
        return await self._apply(lambda t, now: command.apply(t, c, now))

    def validator(self: _Handles, c: BaseModel) -> None:
        self._check(lambda t, now: command.validate(t, c, now))

    for fn, returns in ((handler, Answer), (validator, None)):
        fn.__name__ = fn.__qualname__ = command.update
        fn.__annotations__ = {"c": command.model, "return": returns}
    update = workflow.update(name=command.update, description=command.description)(handler)
    update.validator(validator)
    return update
