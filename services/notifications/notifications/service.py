"""Notifications: tells referrers, navigators, attendees and managers what they need to know.

This slice: referrer feedback (DOMAIN.md §7, §10). A professional referrer's contact queues
an acknowledgement; the end of the MASH episode (a triage route that ends it there, or the
enquiries outcome) queues the outcome; the sender timer delivers them by email through the
configured SMTP relay (``notifications/settings.py``) and announces each as
``mash.notifications.notification.sent.v1`` (which stops the timekeeper's feedback clocks)
or ``notification.failed.v1``. Nothing is ever sent to the public or an anonymous referrer.
"""

from pathlib import Path

from fastapi import FastAPI

from mashcore.service import ConsumerSpec, ServiceContext, ServiceDefinition, TimerSpec
from mashcore.topics import (
    ENQUIRIES_EPISODES,
    INTAKE_CONTACTS,
    NOTIFICATIONS,
    SLA,
    STRATEGY_CASES,
    TRIAGE_CASES,
)
from notifications import api, handlers, sender, template_files, webhooks
from notifications.metrics import notification_metrics
from notifications.settings import NotifySettings


def _check_settings(_app: FastAPI, _ctx: ServiceContext) -> None:
    """MASH_NOTIFY_* are checked at start-up: a malformed mailbox map stops the service
    with the variable named, rather than failing every send later; so are the partnerships'
    template files (a faulty one stops it, naming the file)."""
    NotifySettings()
    template_files.check(template_files.templates_dir())
    webhooks.check_key()


SERVICE = ServiceDefinition(
    name="notifications",
    title="MASH Notifications",
    description="Tells referrers, navigators, attendees and managers what they need to know.",
    migrations=Path(__file__).parent / "migrations",
    routers=lambda ctx: [*api.router(ctx), *webhooks.router(ctx)],
    consumers=[
        ConsumerSpec(name="contacts", topics=[INTAKE_CONTACTS],
                     handlers=handlers.intake_handlers),
        ConsumerSpec(name="decisions", topics=[TRIAGE_CASES],
                     handlers=handlers.triage_handlers),
        ConsumerSpec(name="episodes", topics=[ENQUIRIES_EPISODES],
                     handlers=handlers.enquiries_handlers),
        ConsumerSpec(name="meetings", topics=[STRATEGY_CASES],
                     handlers=handlers.strategy_handlers),
        ConsumerSpec(name="alerts", topics=[SLA], handlers=handlers.sla_handlers),
    ],
    produces=[NOTIFICATIONS],
    timers=[TimerSpec(name="sender", run=sender.send_due, interval=15.0)],
    metrics=notification_metrics,
    configure=_check_settings,
)
