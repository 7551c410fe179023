"""Message templates a hub can edit, per partnership (issue 16).

A partnership that wants its own wording puts a file per kind of message in
``policy/notifications/<partnership>/<kind>.txt`` (or under ``MASH_NOTIFY_TEMPLATES_DIR``):
its first line ``Subject: …``, a blank line, then the body, in plain English (GOV.UK style).
Kinds without a file use the default wording, ``policy/notifications/default/<kind>.txt``
(the same format; the hub's starting point): one file per kind, plus
``meeting_cancellation`` (a meeting invitation's file is used for invitations and updates, the
cancellation file for cancellations). A kind without a default file stops start-up.

Only these placeholders may be used, in braces (``{reference}``): ``reference``, ``link``,
``due`` everywhere; ``outcome`` (referrer_outcome), ``police_reference`` (dash_request),
``police_reference_line`` (``Your reference: …`` and a line break, or nothing) and
``send_by`` (``by <time>`` or ``today``) (dash_request), ``title``, ``title_lower`` (both
meeting kinds), ``updated`` (``Updated: `` or nothing) and ``place`` (meeting_invitation),
``clock`` (alerts). They carry a reference,
times, a link or a code's wording: never a name. The files are checked when the service
starts: an unknown kind, an unknown placeholder (one that could carry a name is refused by
name), or a missing ``Subject:`` line stops it, naming the file.
"""

from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mashcore.policy import default_policy_dir
from notifications.models import Notification
from notifications.settings import EMAIL_KINDS

COMMON = frozenset({"reference", "link", "due"})
CANCELLATION = "meeting_cancellation"
"""The template of a cancelled meeting invitation (its own file, not a kind of message)."""
EXTRA = {"referrer_outcome": {"outcome"},
         "dash_request": {"police_reference", "police_reference_line", "send_by"},
         "meeting_invitation": {"title", "title_lower", "updated", "place"},
         CANCELLATION: {"title", "title_lower"},
         "sla_breach_alert": {"clock"}, "manager_alert": {"clock"}}
ALLOWED = {kind: COMMON | EXTRA.get(kind, set()) for kind in (*EMAIL_KINDS, CANCELLATION)}
DEFAULT = "default"
"""The folder of the default wording, used for a partnership without its own file."""
NAME_LIKE = re.compile(r"name|child|family|parent|carer|person|address|birth|dob|email|"
                       r"phone|referrer|subject", re.IGNORECASE)


class TemplateError(ValueError):
    """A template file is invalid; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


def templates_dir() -> Path:
    """``MASH_NOTIFY_TEMPLATES_DIR`` or the repository's ``policy/notifications``."""
    configured = os.environ.get("MASH_NOTIFY_TEMPLATES_DIR")
    return Path(configured) if configured else default_policy_dir().parent / "notifications"


def parse(path: Path) -> Template:
    """One template file, checked: a known kind, a ``Subject:`` line, allowed placeholders."""
    kind = path.stem
    if path.suffix != ".txt" or kind not in ALLOWED:
        raise TemplateError(f"{path}: not a kind of message (one of {', '.join(ALLOWED)}"
                            ", as <kind>.txt)")
    first, _, body = path.read_text(encoding="utf-8").partition("\n")
    if not first.startswith("Subject:") or not first[len("Subject:"):].strip():
        raise TemplateError(f"{path}: the first line must be 'Subject: …'")
    subject = first[len("Subject:"):].strip()
    for text in (subject, body):
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            raise TemplateError(f"{path}: {exc} (write {{{{ and }}}} for a brace)") from None
        for field in fields:
            if field not in ALLOWED[kind]:
                why = " (it could carry a name)" if NAME_LIKE.search(field) else ""
                raise TemplateError(
                    f"{path}: placeholder {{{field}}} is not allowed{why}; use only "
                    f"{', '.join('{' + a + '}' for a in sorted(ALLOWED[kind]))}")
    return Template(subject, body.lstrip("\n"))


def load(folder: Path) -> dict[str, dict[str, Template]]:
    """Every partnership's templates under ``folder`` (none if it does not exist)."""
    if not folder.is_dir():
        return {}
    book: dict[str, dict[str, Template]] = {}
    for partnership in sorted(p for p in folder.iterdir() if p.is_dir()):
        book[partnership.name] = {path.stem: parse(path)
                                  for path in sorted(partnership.iterdir()) if path.is_file()}
    return book


def check(folder: Path) -> dict[str, dict[str, Template]]:
    """``load``, at start-up: also every kind needs a default file (the message names it)."""
    book = load(folder)
    missing = [kind for kind in ALLOWED if kind not in book.get(DEFAULT, {})]
    if missing:
        raise TemplateError(f"{folder / DEFAULT}: no default template for "
                            f"{', '.join(missing)} (add <kind>.txt for each)")
    return book


@cache
def _book(folder: Path) -> dict[str, dict[str, Template]]:
    return load(folder)


def render(notification: Notification, values: dict[str, str]) -> tuple[str, str]:
    """The subject and body for ``notification``: the partnership's own file, else the
    default one."""
    name = notification.kind
    if name == "meeting_invitation" and json.loads(
            notification.payload or "{}").get("cancelled"):
        name = CANCELLATION
    book = _book(templates_dir())
    template = (book.get(notification.partnership, {}).get(name)
                or book.get(DEFAULT, {}).get(name))
    if template is None:
        raise ValueError(f"no template for {notification.kind}")
    allowed = {k: v for k, v in values.items() if k in ALLOWED[name]}
    return template.subject.format(**allowed), template.body.format(**allowed)
