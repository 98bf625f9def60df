"""Exceptions the lab raises, each with a message that says what to do next."""


class LabServerError(RuntimeError):
    """The lab server could not start or stop; the kernel itself is unharmed."""


class PortInUseError(LabServerError):
    """The requested port is taken."""
