"""The exceptions licet raises. Each carries a stable machine ``code``."""

from __future__ import annotations


class Error(Exception):
    """A licet error: ``code`` is stable (match on it), ``message`` is for people."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class Refused(Error):
    """Checked and refused: a token, list or artefact did not verify (the verifier's code,
    such as ``expired``, ``wrong_product`` or ``bad_signature``), or the server refused (its
    code, such as ``too_many_machines``)."""


class InvalidArgument(Error, ValueError):
    """The caller's mistake: a wrong length, a wrong type of value (``invalid_argument``)."""


class Unreachable(Error):
    """The license server could not be reached (``unreachable``)."""


class Untrusted(Error):
    """The server's answer did not check out and was not trusted (the verifier's code)."""


class StateError(Error):
    """The local license state could not be read or written (``state_error``), or there is no
    license or pending request to act on (``not_activated``, ``no_pending_request``)."""
