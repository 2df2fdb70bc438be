"""User-facing errors of the deploy path; all subclass UserError so the CLI prints one line and exits 2."""

from unikd.errors import UserError


class DeployError(UserError):
    """Base of the deploy path's user errors."""


class UnknownBoardError(DeployError):
    """A board name with no profile; the message lists the profiles."""


class BudgetError(DeployError):
    """The model does not fit the board's flash or RAM budget; the message gives the numbers."""


class UnsupportedOpError(DeployError):
    """The model uses an op the chosen runtime cannot run; the message names it."""


class ToolMissingError(DeployError):
    """A board tool (arduino-cli, pio, esptool) is not installed; the message says how to install it."""


class ModelStructureError(DeployError):
    """The torch model has a shape the Keras mirror does not reproduce."""
