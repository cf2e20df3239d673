"""What a control chart reads of a part's process records: everything while the history
is short, two bounded windows once it is long.

A line writing one record a second stores 86k records a day; charting them all on every
live check (every few seconds) and every page view would grow without end. So:

- up to ``limit_records(baseline) + CHART_RECORDS`` records (6,000 by default) the whole
  history is read and charted, exactly as before;
- above that, two bounded reads (ORDER BY … LIMIT, oldest and newest, scoped to the
  caller's organisation by the store): the oldest ``limit_records`` records, whose first
  points give the Phase-I limits, and the newest ``CHART_RECORDS``, which are charted
  with those limits;
- a live check (``since`` given) reads the oldest window, the records since its last run
  (at most ``CHART_RECORDS``) and ``LOOKBACK_RECORDS`` before them, so the run rules see
  the points before the new ones; when these reads meet, they are the whole history.

What a window changes, and what it does not: the limits (centre, σ within and its degrees
of freedom) are those of the whole history's first points, provided the oldest window
holds them (a lot whose records are spread beyond the oldest window's end would be cut);
otherwise the chart takes its limits from its own first points and says why. Run rules
see only the charted points; consecutive subgroups (``subgroup_size``) start at the
window's first record; the parameters offered are those of the two windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dure.domain.records import ProcessRecord
from dure.store.session import Session

BASELINE_SUBGROUPS = 20  # Phase-I subgroups when none are asked for (lots or consecutive)
MAX_LOT_SIZE = 25  # the largest lot that is a rational subgroup
# The newest records a chart shows once the history is long (a few days of a fast line;
# more than a page can draw usefully).
CHART_RECORDS = 5000
# Run rules look back at most 15 points (Nelson 7: fifteen in a row within 1σ); 16 lots
# of up to MAX_LOT_SIZE records cover them even when the first lot read is cut short.
RULE_LOOKBACK_POINTS = 15
LOOKBACK_RECORDS = (RULE_LOOKBACK_POINTS + 1) * MAX_LOT_SIZE


def limit_records(baseline: int | None = None) -> int:
    """The oldest records read for Phase-I limits: the first ``baseline`` subgroups of up
    to MAX_LOT_SIZE records twice over (1,000 by default), so that a lot cut at the
    window's end lies past the baseline. 50 individual values fit many times over."""
    points = max(baseline or BASELINE_SUBGROUPS, BASELINE_SUBGROUPS)
    return 2 * points * MAX_LOT_SIZE


@dataclass(frozen=True)
class RecordWindows:
    """The records a chart is made of.

    ``limits`` is None when ``charted`` is the whole history (oldest first); otherwise
    ``limits`` holds the oldest records (the Phase-I limits come from them) and ``charted``
    the newest, and ``total`` says how many the part has in all.
    """

    total: int
    charted: list[ProcessRecord]
    limits: list[ProcessRecord] | None

    @property
    def read(self) -> int:
        """How many records were read from the store."""
        return len(self.charted) + len(self.limits or [])


def read_windows(
    session: Session, part_id: str, *, since: datetime | None = None, baseline: int | None = None
) -> RecordWindows:
    """The caller's records of the part to chart (see the module docstring); ``since`` is
    the live check's: only the records at or after it, and the lookback, are charted."""
    repo = session.process_records
    total = repo.own_count(part_id=part_id)
    oldest_n = limit_records(baseline)
    if since is None and total <= oldest_n + CHART_RECORDS:
        return RecordWindows(total, repo.own_between(None, None, part_id=part_id), None)
    oldest = repo.own_oldest(oldest_n, part_id=part_id)
    if since is None:
        return RecordWindows(total, repo.own_newest(CHART_RECORDS, part_id=part_id), oldest)
    new = repo.own_newest(CHART_RECORDS, start=since, part_id=part_id)
    before = []
    if len(new) < CHART_RECORDS:  # a backlog longer than a chart is charted on its own
        before = repo.own_newest(LOOKBACK_RECORDS, end=since, part_id=part_id)
    charted = before + new
    seen = {r.id for r in charted}
    whole = charted + [r for r in oldest if r.id not in seen]
    if len(whole) >= total:  # the reads meet: they are the whole history
        return RecordWindows(total, whole, None)
    return RecordWindows(total, charted, oldest)
