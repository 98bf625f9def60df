"""Exceptions the lab raises, each with a message that says what to do next.

    LabServerError          a lab server could not start or stop (the kernel is unharmed)
    └── PortInUseError      the requested port is taken
"""

__all__ = ["LabServerError", "PortInUseError"]


class LabServerError(RuntimeError):
    """The lab server could not start or stop; the kernel itself is unharmed."""


class PortInUseError(LabServerError):
    """The requested port is taken."""
