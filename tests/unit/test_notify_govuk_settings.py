"""GOV.UK Notify settings are checked at start-up (issue 16): a missing or malformed API key,
or a kind of email without a template, stops the service naming the variable, and the error
never echoes the key."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from notifications.settings import EMAIL_KINDS, NotifySettings

KEY = f"mash_live-{uuid.uuid4()}-{uuid.uuid4()}"
TEMPLATES = {kind: str(uuid.uuid4()) for kind in EMAIL_KINDS}


@pytest.fixture(autouse=True)
def _govuk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASH_NOTIFY_CHANNEL", "govuk_notify")
    monkeypatch.setenv("MASH_NOTIFY_GOVUK_TEMPLATE_IDS", json.dumps(TEMPLATES))


def test_a_complete_configuration_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASH_NOTIFY_GOVUK_API_KEY", KEY)
    settings = NotifySettings()
    assert settings.govuk_api_key is not None and KEY not in repr(settings)


@pytest.mark.parametrize("key", [None, "not-a-key-secret-1234", KEY[:-1]])
def test_a_missing_or_malformed_key_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, key: str | None,
) -> None:
    if key is not None:
        monkeypatch.setenv("MASH_NOTIFY_GOVUK_API_KEY", key)
    with pytest.raises(ValidationError) as error:
        NotifySettings()
    assert "MASH_NOTIFY_GOVUK_API_KEY" in str(error.value)
    assert key is None or key not in str(error.value)


def test_a_kind_without_a_template_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASH_NOTIFY_GOVUK_API_KEY", KEY)
    monkeypatch.setenv("MASH_NOTIFY_GOVUK_TEMPLATE_IDS", json.dumps(
        {**{k: v for k, v in TEMPLATES.items() if k != "dash_request"},
         "navigator_chaser": "not-a-uuid"}))
    with pytest.raises(ValidationError) as error:
        NotifySettings()
    assert "dash_request" in str(error.value) and "navigator_chaser" in str(error.value)
    assert KEY not in str(error.value)
