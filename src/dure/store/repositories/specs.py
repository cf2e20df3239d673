"""Repository of the specification limits of a part's process parameters."""

from __future__ import annotations

from sqlalchemy import delete

from dure.domain.parts import ParameterSpec
from dure.domain.users import Role
from dure.store import tables as t
from dure.store.scoped import ScopedRepository


class ParameterSpecRepository(ScopedRepository[ParameterSpec]):
    """The caller's specification limits, one per part and parameter."""

    table = t.parameter_specs
    entity = ParameterSpec
    resource = "parameter_spec"
    write_role = Role.ENGINEER
    order_by = "parameter"

    def check_references(self, item: ParameterSpec) -> None:
        self.require_own(t.part_numbers, "part_id", item.part_id)

    def of_part(self, part_id: str) -> dict[str, ParameterSpec]:
        """The caller's limits of one of its parts, by parameter name."""
        return {s.parameter: s for s in self.list_own(part_id=part_id)}

    def put(self, spec: ParameterSpec) -> ParameterSpec:
        """Set (or replace) the limits of one parameter of one of the caller's parts."""
        self.require_write()
        self.require_own(t.part_numbers, "part_id", spec.part_id)
        self.conn.execute(
            delete(self.table).where(
                self.table.c.org_id == self.caller.org_id,
                self.table.c.part_id == spec.part_id,
                self.table.c.parameter == spec.parameter,
            )
        )
        return self.add(spec)
