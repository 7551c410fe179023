"""SLA timekeeper: every statutory timescale is a live clock (DOMAIN.md §6, §8).

It follows the pipeline's events, runs each clock configured in the partnership's policy,
and publishes started, warned, breached, met (and paused, resumed, extended, cancelled) on
mash.sla.v1, with no personal data, at the right moment even when nothing else happens.
"""

from pathlib import Path

from mashcore.service import ConsumerSpec, FeedSpec, ServiceDefinition, TimerSpec
from mashcore.topics import (
    ENQUIRIES_EPISODES,
    INTAKE_CONTACTS,
    NOTIFICATIONS,
    SLA,
    STRATEGY_CASES,
    TRIAGE_CASES,
)
from sla_timekeeper import dashboard, live, schedule, timekeeper, undelivered
from sla_timekeeper.api import router

SERVICE = ServiceDefinition(
    name="sla-timekeeper",
    title="MASH SLA timekeeper",
    description="Every statutory timescale as a live clock; warnings, breaches and met "
                "deadlines on mash.sla.v1 without personal data. The ops dashboard is at "
                "`/dashboard#token=<token>` (`mash-token --role ops --agency local_authority`).",
    migrations=Path(__file__).parent / "migrations",
    routers=router,
    consumers=[ConsumerSpec(name="pipeline",
                            topics=[INTAKE_CONTACTS, TRIAGE_CASES, ENQUIRIES_EPISODES,
                                    STRATEGY_CASES, NOTIFICATIONS],
                            handlers=undelivered.with_notices(timekeeper.event_handlers),
                            # A batch of clock events applied at once (issue 17).
                            batch_handler=undelivered.without_notices(
                                timekeeper.batch_handler))],
    produces=[SLA],
    # Wakes when the next clock falls due (an in-process schedule fed from committed
    # clocks); the half-second poll only covers changes made by another replica.
    timers=[TimerSpec(name="clocks", run=timekeeper.run_timer, interval=0.5,
                      alarm=schedule.schedule_for)],
    # The dashboard follows the SLA topic live, in every replica (and the notices that
    # were never delivered: notifications' outcomes).
    feeds=[FeedSpec(name="dashboard", topics=[SLA, NOTIFICATIONS],
                    handler=live.feed_handler)],
    metrics=dashboard.sla_metrics,
)
