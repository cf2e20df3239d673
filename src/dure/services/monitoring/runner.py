"""Runs the live checks that are due: the job runner's checks lane calls ``run_due``.

Each check runs in its own transaction acting as a monitor of the check's organisation
(its alerts are that organisation's, scoped like any other write); new alerts are sent
to the organisation's targets after the commit. A check that fails keeps its error on
its row (``last_error``) and is tried again on the next mark; it never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from dure.collab.outbound import OutboundPolicy
from dure.domain.ids import utcnow
from dure.domain.live_checks import LiveCheck, SubjectKind
from dure.domain.users import Caller, Role
from dure.errors import DureError
from dure.services.alerts.delivery import STRICT, deliver
from dure.services.monitoring.asset_checks import check_asset
from dure.services.monitoring.channel_checks import CheckOutcome, check_channel
from dure.services.monitoring.part_checks import check_part
from dure.store.session import Session, Store

log = logging.getLogger(__name__)
ASSET_EVERY = timedelta(seconds=60)  # how often a machine's cross-channel check runs
ENSURE_EVERY_S = 60.0  # how often machines without a cross-channel check get one
BATCH = 50  # checks per round

CHECKS: dict[SubjectKind, Callable[[Session, LiveCheck], CheckOutcome]] = {
    SubjectKind.CHANNEL: check_channel,
    SubjectKind.ASSET: check_asset,
    SubjectKind.PART: check_part,
}


def monitor(org_id: str) -> Caller:
    """Who a live check acts as: an operator of the organisation it watches (it reads the
    organisation's data and raises its alerts, nothing else)."""
    return Caller(org_id=org_id, user_id=None, role=Role.OPERATOR)


class CheckRounds:
    """Rounds of due live checks, remembering when machines were last given checks."""

    def __init__(self, store: Store, outbound: OutboundPolicy = STRICT) -> None:
        self.store = store
        self.outbound = outbound
        self._ensured = 0.0

    def run_due(self) -> int:
        """Run every check due now (a round of at most ``BATCH``); returns how many ran."""
        if time.monotonic() - self._ensured > ENSURE_EVERY_S:
            with self.store.system() as system:
                system.live_checks.ensure_assets()
            self._ensured = time.monotonic()
        with self.store.system(read_only=True) as system:
            due = system.live_checks.due(BATCH, ASSET_EVERY)
        for check in due:
            self.run_one(check)
        return len(due)

    def run_one(self, check: LiveCheck) -> CheckOutcome | None:
        """Run one check and keep its bookmark; None when its kind has no check to run."""
        run = CHECKS.get(check.subject_kind)
        started = utcnow()
        caller = monitor(check.org_id)
        outcome, error = None, None
        if run is not None:
            try:
                with self.store.session(caller) as session:
                    outcome = run(session, check)
            except DureError as exc:
                error = exc.detail
            except Exception as exc:  # a check must never stop the lane
                log.exception("live check %s failed", check.id)
                error = f"internal error: {type(exc).__name__}: {exc}"
        state = outcome.state if outcome is not None else check.state
        with self.store.system() as system:
            system.live_checks.settle(check, state, error, started)
            if outcome is not None and outcome.more:
                system.live_checks.touch(check.id)
        if outcome is not None and outcome.new_alerts:
            deliver(self.store, caller, outcome.new_alerts, self.outbound)
        return outcome
