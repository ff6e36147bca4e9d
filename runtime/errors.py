"""The runtime's one error tree.

Every failure the runtime reports is a ``BerthError`` with a stable ``code``.
The host agent turns these into small JSON errors (code, message, detail) and
the web maps codes to the message a user sees.
"""
from __future__ import annotations


class BerthError(Exception):
    code = "internal"

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class NotFound(BerthError):
    code = "not_found"


class InvalidState(BerthError):
    code = "invalid_state"


class InvalidSpec(BerthError):
    """A container, build or network request that fails validation."""

    code = "invalid_spec"


class ContextError(BerthError):
    """A build context (archive or COPY source) that is unsafe or incomplete."""

    code = "bad_context"


class DockerfileError(BerthError):
    """A Dockerfile that cannot be parsed or built; names its line range."""

    code = "dockerfile"

    def __init__(self, message: str, *, line: int | None = None, end_line: int | None = None,
                 detail: str = ""):
        self.line = line
        self.end_line = end_line if end_line is not None else line
        where = ""
        if line is not None:
            where = f"line {line}: " if self.end_line == line else f"lines {line}-{self.end_line}: "
        super().__init__(f"Dockerfile {where}{message}", detail=detail)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "line": self.line, "end_line": self.end_line}


class PortInUse(BerthError):
    code = "port_in_use"


class OCIRuntimeError(BerthError):
    """runc (or conmon) failed; the message says what was being done."""

    code = "oci_runtime"


class MissingKernelFeature(BerthError):
    code = "missing_feature"


class Cancelled(BerthError):
    """The user cancelled the work (a build); what it had half made is gone."""

    code = "cancelled"


class RegistryError(BerthError):
    """A registry that cannot be reached, refuses the credentials, or lacks the image."""

    code = "registry"
