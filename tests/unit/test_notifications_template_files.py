"""Partnerships' template files are checked at start-up (issue 16): an unknown kind, an
unknown placeholder (one that could carry a name refused as such) or a missing Subject line
stops the service, naming the file; the repository's own files are valid."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from notifications import template_files
from notifications.service import _check_settings
from notifications.template_files import TemplateError, load


def _write(root: Path, partnership: str, name: str, text: str) -> Path:
    folder = root / partnership
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_is_loaded_with_its_subject_and_body(tmp_path: Path) -> None:
    _write(tmp_path, "medway", "referrer_outcome.txt",
           "Subject: Outcome {reference}\n\nOutcome: {outcome}\nSee {link} by {due}.\n")
    [template] = load(tmp_path)["medway"].values()
    assert template.subject == "Outcome {reference}"
    assert template.body == "Outcome: {outcome}\nSee {link} by {due}.\n"


@pytest.mark.parametrize(("name", "text", "says"), [
    ("referrer_thanks.txt", "Subject: Hi\n\nBody\n", "not a kind of message"),
    ("referrer_acknowledgement.txt", "Hello {reference}\n", "Subject:"),
    ("referrer_acknowledgement.txt", "Subject: {reference}\n\nDear {child_name}\n",
     "{child_name} is not allowed (it could carry a name)"),
    ("referrer_acknowledgement.txt", "Subject: {reference}\n\nOutcome: {outcome}\n",
     "{outcome} is not allowed; use only {due}, {link}, {reference}"),
    ("navigator_request.txt", "Subject: {reference\n\nBody\n", "brace"),
])
def test_a_faulty_file_is_refused_naming_it(tmp_path: Path, name: str, text: str,
                                            says: str) -> None:
    path = _write(tmp_path, "medway", name, text)
    with pytest.raises(TemplateError) as refused:
        load(tmp_path)
    assert str(path) in str(refused.value) and says in str(refused.value)


def test_the_service_does_not_start_with_a_faulty_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "coventry", "dash_request.txt", "Subject: {surname}\n\nx\n")
    monkeypatch.setenv("MASH_NOTIFY_TEMPLATES_DIR", str(tmp_path))
    with pytest.raises(TemplateError, match=str(path)):
        _check_settings(None, None)  # type: ignore[arg-type]


def test_the_repositorys_own_template_files_are_valid() -> None:
    assert "example" in load(template_files.templates_dir())  # a partnership named example


def test_the_service_does_not_start_without_a_default_for_every_kind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(template_files.templates_dir() / "default", tmp_path / "default")
    (tmp_path / "default" / "meeting_cancellation.txt").unlink()
    monkeypatch.setenv("MASH_NOTIFY_TEMPLATES_DIR", str(tmp_path))
    with pytest.raises(TemplateError) as refused:
        _check_settings(None, None)  # type: ignore[arg-type]
    assert str(tmp_path / "default") in str(refused.value)
    assert "no default template for meeting_cancellation" in str(refused.value)


def test_the_repositorys_defaults_cover_every_kind() -> None:
    book = template_files.check(template_files.templates_dir())
    assert set(book["default"]) == set(template_files.ALLOWED)
