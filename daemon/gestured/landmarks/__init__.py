"""Landmark backends behind one interface, chosen by name."""

from __future__ import annotations

from gestured.errors import ConfigError
from gestured.landmarks.base import BackendOptions, Hand, LandmarkBackend

BACKENDS = ("auto", "solutions", "tasks")


def create_backend(name: str, options: BackendOptions) -> LandmarkBackend:
    """Create the backend `name`; "auto" takes Tasks when a .task path is set."""
    if name == "auto":
        name = "tasks" if options.task_path else "solutions"
    if name == "solutions":
        from gestured.landmarks.solutions import SolutionsBackend

        return SolutionsBackend(options)
    if name == "tasks":
        from gestured.landmarks.tasks import TasksBackend

        return TasksBackend(options)
    raise ConfigError(
        f"unknown landmark backend {name!r}: expected one of {', '.join(BACKENDS)}"
    )


__all__ = ["BACKENDS", "BackendOptions", "Hand", "LandmarkBackend", "create_backend"]
