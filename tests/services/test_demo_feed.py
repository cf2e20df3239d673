"""The demo's live feed: within the first minutes the live checks raise Mirae's wearing
press and Hanul's hot dies, and nothing on Daesung's healthy press."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dure.domain.alerts import AlertKind
from dure.services.demo.live_feed import DemoFeed
from dure.services.demo.world import build_demo
from dure.services.monitoring.runner import CheckRounds
from dure.services.platform.accounts import system_caller
from dure.settings import Settings
from dure.store.session import Store

END = datetime(2026, 11, 30, 6, tzinfo=UTC)


@pytest.mark.slow
def test_the_feed_raises_the_wearing_press_and_nothing_on_the_healthy_one(
    store: Store, settings: Settings
) -> None:
    build_demo(store, settings.home, seed=3, end=END, history_days=0, images_per_supplier=4)
    rounds = CheckRounds(store)
    while rounds.run_due():  # the history first, as when `dure up` starts
        pass
    feed = DemoFeed(store, wear_day_s=0.5, record_every_s=0.0)
    feed.presses = feed.find_presses()
    assert sorted(p.slug for p in feed.presses) == ["daesung", "hanul", "mirae"]
    for k in range(30):
        feed.tick(END + timedelta(seconds=2 * (k + 1)))
        rounds.run_due()
    by_org = {}
    with store.system(read_only=True) as system:
        orgs = {
            slug: system.organisations.get_by_slug(slug) for slug in ("daesung", "mirae", "hanul")
        }
    for slug, org in orgs.items():
        with store.session(system_caller(org)) as s:
            by_org[slug] = s.alerts.list_all()
    # the healthy press raises nothing; its process parameters nothing beyond the limits
    # (a run rule on in-control data fires at its textbook rate: about one point in 90)
    healthy = [
        a.message
        for a in by_org["daesung"]
        if a.message.startswith("press-800t") or ": WE1" in a.rule
    ]
    assert healthy == [], healthy
    mirae = by_org["mirae"]
    assert any(a.kind is AlertKind.MACHINE_ANOMALY and "vibration" in a.message for a in mirae)
    live = [a for a in mirae if "2026-11-30T06:0" in a.message]
    assert live, [a.message for a in mirae]
    hot = [a for a in by_org["hanul"] if a.rule.startswith("die_temp_C: WE")]
    assert hot and hot[0].link.endswith("&parameter=die_temp_C"), [a.rule for a in by_org["hanul"]]
