"""An API that knows only `qc`: a task whose circuit comes under `circuit`, the older name the
contract accepts as an alias, is refused with 400 naming qc, as if the field were missing.

The real API with the alias taken off its submission model, before the routes are built on it.
"""

from pydantic import Field, StrictStr

from qtask_service.api import schemas


class QcOnlySubmission(schemas.TaskSubmission):
    """The reference's submission without the alias (`circuit` is then an ignored extra)."""

    qc: StrictStr = Field(min_length=1)


def _serve() -> None:
    schemas.TaskSubmission = QcOnlySubmission  # type: ignore[misc]
    from qtask_service.api.server import main  # builds the routes on the patched model

    main()


_serve()
