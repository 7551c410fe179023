"""How notifications are delivered: environment variables ``MASH_NOTIFY_*``, read at each
sending run (so an operator's change applies without a restart of the consumers).

* ``MASH_NOTIFY_CHANNEL``: ``smtp`` (default), ``govuk_notify`` (GOV.UK Notify's API) or
  ``log_only`` (development: nothing leaves the process; each message is recorded as sent
  without its body).
* ``MASH_NOTIFY_GOVUK_API_KEY``: the Notify service's API key (``govuk_notify`` only);
  ``MASH_NOTIFY_GOVUK_TEMPLATE_IDS``: JSON ``{"<kind>": "<template uuid>"}``, one per kind of
  email (``EMAIL_KINDS``); each template uses the personalisation ``reference``, ``link``,
  ``due`` and ``subject`` only. ``MASH_NOTIFY_GOVUK_BASE_URL``: the API (default Notify's).
* ``MASH_NOTIFY_SMTP_HOST`` / ``_PORT`` / ``_STARTTLS`` / ``_USERNAME`` / ``_PASSWORD``: the
  relay (e.g. the council's relay, or smtp.notifications.service.gov.uk is *not* SMTP: use a
  relay).
* ``MASH_NOTIFY_FROM``: the hub's sending address.
* ``MASH_NOTIFY_REFERRER_MAILBOXES``: JSON ``{"<partnership>": {"<agency>": "<mailbox>"}}``,
  where each agency's referrer feedback goes (the agency's safeguarding mailbox; the
  referrer's own address, held by intake, is not fetched yet); a partnership ``"*"`` applies
  to every partnership without its own.
* ``MASH_NOTIFY_NAVIGATOR_MAILBOXES``: the same shape: each agency's navigators' shared
  mailbox, for new information requests and chasers.
* ``MASH_NOTIFY_NAVIGATOR_WEBHOOKS``: JSON ``{"<partnership>": {"<agency>": {"url": "https://…",
  "secrets": ["whsec_…"]}}}``: an agency whose system takes requests by webhook gets them
  there instead of by email, signed per the Standard Webhooks specification with every
  secret listed (list the new secret beside the old one, let the partner switch, then drop
  the old: rotation without downtime). HTTPS only, unless ``MASH_NOTIFY_ALLOW_HTTP_WEBHOOKS``
  is set (development).
* ``MASH_NOTIFY_ATTENDEE_MAILBOXES``: the same shape: where each agency's strategy
  discussion invitations go (its safeguarding team's shared calendar mailbox).
* ``MASH_NOTIFY_MANAGER_ROUTES``: JSON ``{"<partnership>": {"<clock>": "<mailbox>"}}``: who
  gets which clock's breach alerts (a clock ``"*"``: every other clock; a partnership
  ``"*"``: every other partnership). A clock routed nowhere sends no alert.
* ``MASH_NOTIFY_WARN_AT_PERCENT`` (75): warnings at or past this share of the time are
  alerted too (100: breaches only).
* ``MASH_NOTIFY_MAX_ATTEMPTS`` (5), ``MASH_NOTIFY_BACKOFF_SECONDS`` (60, doubled per attempt),
  ``MASH_NOTIFY_HOLD_SECONDS`` (60: how long an acknowledgement waits for intake's
  linked-referral announcement that follows its contact.received).
* ``MASH_NOTIFY_LINK_BASE`` (``http://127.0.0.1:8007``, the workbench as ``make run`` serves
  it): the hub's web address, for the link in a message to a person (a navigator's request
  and chaser open the request's page, ``/navigator/requests/<id>``).
* ``MASH_NOTIFY_API_BASE`` (``http://127.0.0.1:8003``, mash-enquiries): where a partner
  system reads a request, for the link in a webhook (``/v1/requests/<id>``).
* ``MASH_NOTIFY_DASHBOARD_URL`` (``http://127.0.0.1:8006/dashboard``): the SLA dashboard, for
  the link in an alert.
* ``MASH_NOTIFY_INTAKE_URL``, ``MASH_NOTIFY_INTAKE_TOKEN`` (a ``service`` token): where the
  referrer's own email is read at send time; without them feedback goes to the agency's
  referrer mailbox.
* ``MASH_NOTIFY_WEBHOOK_KEY``: a Fernet key (``Fernet.generate_key()``) encrypting the webhook
  registry's secrets at rest (``notifications/webhooks.py``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMAIL_KINDS = ("referrer_acknowledgement", "referrer_outcome", "consent_return",
               "dash_request", "navigator_request", "navigator_chaser", "meeting_invitation",
               "sla_breach_alert", "manager_alert")
"""Every kind of message sent by email: each needs a GOV.UK Notify template."""
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Webhook(BaseModel):
    """A partner system's endpoint and its signing secrets (newest first)."""

    url: str = Field(pattern=r"^https?://")
    secrets: list[SecretStr] = Field(min_length=1)


class NotifySettings(BaseSettings):
    # Errors name the variable, never echo the input (it holds keys and secrets).
    model_config = SettingsConfigDict(env_prefix="MASH_NOTIFY_", extra="ignore",
                                      hide_input_in_errors=True)

    channel: Literal["smtp", "govuk_notify", "log_only"] = "smtp"
    govuk_api_key: SecretStr | None = None
    govuk_template_ids: dict[str, str] = {}
    govuk_base_url: str = Field(default="https://api.notifications.service.gov.uk",
                                pattern=r"^https?://")
    govuk_timeout: float = 10.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = 10.0
    sender: str = "mash-front-door@localhost"
    referrer_mailboxes: dict[str, dict[str, str]] = {}
    navigator_mailboxes: dict[str, dict[str, str]] = {}
    attendee_mailboxes: dict[str, dict[str, str]] = {}
    manager_routes: dict[str, dict[str, str]] = {}
    navigator_webhooks: dict[str, dict[str, Webhook]] = {}
    allow_http_webhooks: bool = False
    warn_at_percent: float = 75.0
    max_attempts: int = 5
    backoff_seconds: float = 60.0
    hold_seconds: float = 60.0
    link_base: str = "http://127.0.0.1:8007"
    api_base: str = "http://127.0.0.1:8003"
    dashboard_url: str = "http://127.0.0.1:8006/dashboard"
    # The referrer's own address, read from intake at send time (notifications.referrer_route).
    intake_url: str | None = Field(default=None, pattern=r"^https?://")
    intake_token: SecretStr | None = None
    intake_timeout: float = 10.0
    # The webhook registry's secrets are encrypted with this Fernet key (notifications.webhooks).
    webhook_key: SecretStr | None = None

    @model_validator(mode="after")
    def https_outside_development(self) -> NotifySettings:
        for agencies in self.navigator_webhooks.values():
            for agency, hook in agencies.items():
                if not hook.url.startswith("https://") and not self.allow_http_webhooks:
                    raise ValueError(f"navigator_webhooks: {agency}'s url must be https")
        if self.channel == "govuk_notify":
            self._check_govuk_notify()
        return self

    def _check_govuk_notify(self) -> None:
        """Notify's key ends with the service's id and the secret (two UUIDs); every kind of
        email needs a template. Errors name the variable, never the key."""
        key = self.govuk_api_key.get_secret_value() if self.govuk_api_key else ""
        if not (len(key) >= 74 and _UUID.fullmatch(key[-73:-37])
                and _UUID.fullmatch(key[-36:])):
            raise ValueError("govuk_api_key: set MASH_NOTIFY_GOVUK_API_KEY to the service's "
                             "GOV.UK Notify API key")
        missing = [kind for kind in EMAIL_KINDS
                   if not _UUID.fullmatch(self.govuk_template_ids.get(kind, ""))]
        if missing:
            raise ValueError("govuk_template_ids: MASH_NOTIFY_GOVUK_TEMPLATE_IDS needs a "
                             f"template id (a UUID) for {', '.join(missing)}")

    def webhook(self, partnership: str, agency: str) -> Webhook | None:
        """The agency's navigators' webhook in this partnership, if it has one."""
        for key in (partnership, "*"):
            hook = self.navigator_webhooks.get(key, {}).get(agency)
            if hook is not None:
                return hook
        return None

    def mailbox(self, role: str, partnership: str, agency: str) -> str | None:
        """The shared mailbox of ``role`` (referrer or navigator) at the agency in this
        partnership, if configured."""
        mailboxes = {"navigator": self.navigator_mailboxes,
                     "attendee": self.attendee_mailboxes}.get(role, self.referrer_mailboxes)
        for key in (partnership, "*"):
            address = mailboxes.get(key, {}).get(agency)
            if address:
                return address
        return None

    def manager_route(self, partnership: str, clock: str) -> str | None:
        """Where this partnership's alerts about ``clock`` go, if anywhere."""
        for key in (partnership, "*"):
            routes = self.manager_routes.get(key, {})
            address = routes.get(clock) or routes.get("*")
            if address:
                return address
        return None
