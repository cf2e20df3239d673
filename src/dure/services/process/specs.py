"""Specification limits of a part's process parameters: set, list (for Cpk)."""

from __future__ import annotations

import math
import re

from dure.domain.parts import ParameterSpec
from dure.errors import InvalidInput
from dure.store.session import Session

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def set_spec(
    session: Session, part_id: str, parameter: str, lower: float | None, upper: float | None
) -> ParameterSpec:
    """Set the lower and/or upper specification limit of one parameter of the caller's part."""
    session.parts.get(part_id)
    if not _NAME.match(parameter):
        raise InvalidInput("parameter", f"{parameter!r}: use letters, digits and _")
    if lower is None and upper is None:
        raise InvalidInput("lower", "give a lower or an upper specification limit (or both)")
    for field, value in (("lower", lower), ("upper", upper)):
        if value is not None and not math.isfinite(value):
            raise InvalidInput(field, f"{value} is not a finite number")
    if lower is not None and upper is not None and lower >= upper:
        raise InvalidInput("upper", f"the upper limit {upper} must be above the lower {lower}")
    return session.parameter_specs.put(
        ParameterSpec(
            org_id=session.caller.org_id,
            part_id=part_id,
            parameter=parameter,
            lower=lower,
            upper=upper,
        )
    )


def specs_of_part(session: Session, part_id: str) -> list[ParameterSpec]:
    """The specification limits of the caller's part, by parameter name."""
    session.parts.get(part_id)
    return sorted(session.parameter_specs.of_part(part_id).values(), key=lambda s: s.parameter)
