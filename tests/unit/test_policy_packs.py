"""Policy packs: the shipped packs load, and a bad pack is refused naming file, line and field.

Malformed packs are the default pack's text with one change, written to a temporary folder.
Line numbers are found by searching the mutated text, never taken from the loader's output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mashcore.policy import Duration, PolicyBook, PolicyError, PolicyPack, load_pack
from mashcore.policy.loader import default_policy_dir
from mashcore.workingtime import WorkingCalendar

pytestmark = pytest.mark.unit

PACKS = Path(__file__).resolve().parents[2] / "policy" / "partnerships"
DEFAULT_TEXT = (PACKS / "default.yaml").read_text(encoding="utf-8")
SHIPPED = ("default", "coventry", "medway", "nottingham", "cambridgeshire-peterborough")
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return PolicyBook.load(PACKS)


@pytest.fixture(scope="module")
def england() -> WorkingCalendar:
    return WorkingCalendar.england()


def mutated(old: str, new: str, text: str = DEFAULT_TEXT) -> str:
    """``text`` with the single occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the only line containing ``fragment``."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(found) == 1, f"{fragment!r} is on lines {found}"
    return found[0]


def write(folder: Path, text: str, name: str = "default") -> Path:
    file = folder / f"{name}.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def refusal(file: Path) -> str:
    with pytest.raises(PolicyError) as caught:
        load_pack(file)
    return str(caught.value)


# --- the shipped packs -------------------------------------------------------------------------


def test_the_default_folder_is_the_repository_policy_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MASH_POLICY_DIR", raising=False)
    assert default_policy_dir() == PACKS
    assert sorted(PolicyBook.load().partnerships()) == sorted(SHIPPED)


def test_mash_policy_dir_overrides_the_default_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    write(tmp_path, DEFAULT_TEXT)
    monkeypatch.setenv("MASH_POLICY_DIR", str(tmp_path))
    assert default_policy_dir() == tmp_path
    assert PolicyBook.load().partnerships() == ["default"]


def test_every_shipped_pack_loads_and_is_named_as_its_file(book: PolicyBook) -> None:
    assert sorted(book.partnerships()) == sorted(SHIPPED)
    for name in SHIPPED:
        assert book.for_partnership(name).partnership == name
        assert load_pack(PACKS / f"{name}.yaml").partnership == name


def test_an_unknown_partnership_gets_the_default_pack(book: PolicyBook) -> None:
    pack = book.for_partnership("unknown-x")
    assert pack.partnership == "default"
    assert pack is book.for_partnership("default")


def level_names(pack: PolicyPack) -> list[str]:
    return [level.name for level in pack.levels]


def test_the_default_pack_has_four_generic_levels(book: PolicyBook) -> None:
    pack = book.for_partnership("default")
    assert level_names(pack) == ["Universal", "Early help", "Child in need", "Child protection"]
    assert [level.suggested_brag for level in pack.levels] == ["blue", "green", "amber", "red"]


def test_coventry_has_its_own_four_levels_with_l4_statutory(book: PolicyBook) -> None:
    pack = book.for_partnership("coventry")
    assert level_names(pack) == [
        "L1 Universal", "L2 Early Help", "L3 Multi-agency Early Help", "L4 Statutory",
    ]
    top = pack.level("L4")
    assert top is not None and top.statutory and top.suggested_brag == "amber"


def test_medway_has_three_levels(book: PolicyBook) -> None:
    pack = book.for_partnership("medway")
    assert [level.code for level in pack.levels] == ["L1", "L2", "L3"]
    assert level_names(pack) == [
        "Level 1 Universal",
        "Level 2 Additional (Early Help)",
        "Level 3 Complex/multiple needs or in need of protection",
    ]
    assert pack.level("L4") is None


def test_nottingham_has_five_levels_ending_in_protection(book: PolicyBook) -> None:
    pack = book.for_partnership("nottingham")
    assert level_names(pack) == [
        "Universal", "Additional", "Extensive", "Child in Need", "Protection",
    ]
    assert pack.levels[-1].code == "L5"
    assert pack.levels[-1].suggested_brag == "red"


def test_cambridgeshire_peterborough_has_its_four_levels(book: PolicyBook) -> None:
    pack = book.for_partnership("cambridgeshire-peterborough")
    assert level_names(pack) == [
        "Universal", "Early help", "Child in need", "Risk of significant harm",
    ]


def test_the_level_names_of_the_four_seed_partnerships_differ(book: PolicyBook) -> None:
    tops = {name: book.for_partnership(name).levels[-1].name
            for name in ("coventry", "medway", "nottingham", "cambridgeshire-peterborough")}
    assert len(set(tops.values())) == 4, tops


def test_only_medway_has_the_twelve_week_rule(book: PolicyBook) -> None:
    assert book.for_partnership("medway").recent_involvement_weeks == 12
    for name in ("default", "coventry", "nottingham", "cambridgeshire-peterborough"):
        assert book.for_partnership(name).recent_involvement_weeks is None, name


def test_medway_decides_within_24_elapsed_hours_and_coventry_one_working_day(
    book: PolicyBook,
) -> None:
    medway = book.for_partnership("medway").threshold_decision_within
    coventry = book.for_partnership("coventry").threshold_decision_within
    assert (medway.amount, medway.unit) == (24, "elapsed_hours")
    assert (coventry.amount, coventry.unit) == (1, "working_days")
    friday = datetime(2026, 12, 18, 15, 30, tzinfo=LONDON)
    assert book.for_partnership("medway").due(medway, friday) == datetime(
        2026, 12, 19, 15, 30, tzinfo=UTC)
    assert book.for_partnership("coventry").due(coventry, friday) == datetime(
        2026, 12, 22, tzinfo=UTC)


def test_every_shipped_colour_with_mash_enquiries_has_a_timescale(book: PolicyBook) -> None:
    for name in SHIPPED:
        pack = book.for_partnership(name)
        red, amber = pack.brag.of("red"), pack.brag.of("amber")
        assert red.enquiries_within == Duration(amount=4, unit="elapsed_hours"), name
        assert amber.enquiries_within == Duration(amount=24, unit="elapsed_hours"), name


# --- malformed packs ---------------------------------------------------------------------------


def test_the_unmodified_default_text_loads_from_a_temporary_folder(tmp_path: Path) -> None:
    # The control for every mutation below: only the mutation makes a pack fail.
    assert load_pack(write(tmp_path, DEFAULT_TEXT)).partnership == "default"


def test_an_unknown_indicator_level_names_file_line_and_field(tmp_path: Path) -> None:
    # pc-substance-misuse is the fourth indicator (index 3) and the only one at L3.
    text = mutated("    level: L3\n", "    level: L9\n")
    file = write(tmp_path, text)
    line = line_of(text, "level: L9")
    message = refusal(file)
    assert (f"{file}:{line}: indicators[3].level: unknown level 'L9' "
            "(the levels are L1, L2, L3, L4)") in message


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    text = mutated("threshold_decision_within: {amount: 1, unit: working_days}\n", "")
    file = write(tmp_path, text)
    message = refusal(file)
    assert str(file) in message
    assert "threshold_decision_within" in message
    assert "required" in message.lower()


def test_a_wrong_type_names_the_nested_field_and_its_line(tmp_path: Path) -> None:
    text = mutated("enquiries_within: {amount: 4, unit: elapsed_hours}",
                   'enquiries_within: {amount: "four", unit: elapsed_hours}')
    file = write(tmp_path, text)
    line = line_of(text, '"four"')
    assert f"{file}:{line}: brag.red.enquiries_within.amount: " in refusal(file)


def test_an_unknown_extra_field_is_refused_by_name(tmp_path: Path) -> None:
    text = mutated("    routes: [nfa, information_and_advice, allocated_worker]\n",
                   "    routs: [nfa, information_and_advice, allocated_worker]\n")
    file = write(tmp_path, text)
    line = line_of(text, "routs:")
    message = refusal(file)
    assert f"{file}:{line}: brag.blue.routs: Extra inputs are not permitted" in message


def test_a_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = mutated("recent_involvement_weeks: null\n",
                   "recent_involvement_weeks: null\nname: Second name\n")
    file = write(tmp_path, text)
    line = line_of(text, "name: Second name")
    assert f"{file}:{line}: name: duplicate key" in refusal(file)


def test_invalid_yaml_reports_its_line(tmp_path: Path) -> None:
    # The flow sequence is left open; the parser trips on the ':' of the next line, 'green:'.
    text = mutated("    routes: [nfa, information_and_advice, allocated_worker]\n",
                   "    routes: [nfa, information_and_advice, allocated_worker\n")
    file = write(tmp_path, text)
    line = line_of(text, "  green:")
    assert f"{file}:{line}: not valid YAML: " in refusal(file)


def test_a_partnership_that_does_not_match_the_file_name_is_refused(tmp_path: Path) -> None:
    file = write(tmp_path, DEFAULT_TEXT, name="elsewhere")
    line = line_of(DEFAULT_TEXT, "partnership: default")
    message = refusal(file)
    assert f"{file}:{line}: partnership: 'default' does not match the file name " \
        "'elsewhere.yaml'" in message


def test_a_colour_allowing_mash_enquiries_needs_enquiries_within(tmp_path: Path) -> None:
    text = mutated("    routes: [early_help, information_and_advice, allocated_worker]\n",
                   "    routes: [early_help, mash_enquiries, allocated_worker]\n")
    file = write(tmp_path, text)
    line = line_of(text, "  green:")
    message = refusal(file)
    assert f"{file}:{line}: brag.green: " in message
    assert "a colour that allows mash_enquiries needs enquiries_within" in message


def test_duplicate_indicator_codes_are_refused(tmp_path: Path) -> None:
    text = mutated("  - code: fe-housing\n", "  - code: cd-missed-checks\n")
    file = write(tmp_path, text)
    message = refusal(file)
    # fe-housing was the eighth indicator (index 7).
    line = [n for n, row in enumerate(text.splitlines(), 1)
            if row == "  - code: cd-missed-checks"][-1]
    assert (f"{file}:{line}: indicators[7].code: duplicate indicator code "
            "'cd-missed-checks'") in message


def test_a_folder_without_a_default_pack_is_refused(tmp_path: Path) -> None:
    write(tmp_path, mutated("partnership: default", "partnership: coventry"), name="coventry")
    with pytest.raises(PolicyError, match=r"no default\.yaml"):
        PolicyBook.load(tmp_path)


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policy packs"):
        PolicyBook.load(tmp_path)


def test_the_book_reports_the_problems_of_every_bad_file_at_once(tmp_path: Path) -> None:
    bad_default = write(tmp_path, mutated("    level: L3\n", "    level: L9\n"))
    bad_medway = write(
        tmp_path,
        mutated("partnership: default", "partnership: medway",
                mutated("recent_involvement_weeks: null", "recent_involvement_weeks: 0")),
        name="medway")
    with pytest.raises(PolicyError) as caught:
        PolicyBook.load(tmp_path)
    message = str(caught.value)
    assert f"{bad_default}:" in message and "indicators[3].level" in message
    assert f"{bad_medway}:" in message and "recent_involvement_weeks" in message


# --- durations ---------------------------------------------------------------------------------


def test_elapsed_hours_run_across_midnight(england: WorkingCalendar) -> None:
    four = Duration(amount=4, unit="elapsed_hours")
    assert four.after(datetime(2026, 12, 18, 22, 30, tzinfo=UTC), england) == datetime(
        2026, 12, 19, 2, 30, tzinfo=UTC)


def test_elapsed_hours_are_real_hours_across_the_end_of_summer_time(
    england: WorkingCalendar,
) -> None:
    # 23:30 BST on Sat 24 Oct 2026 is 22:30 UTC; four real hours later is 02:30 UTC.
    start = datetime(2026, 10, 24, 23, 30, tzinfo=LONDON)
    assert Duration(amount=4, unit="elapsed_hours").after(start, england) == datetime(
        2026, 10, 25, 2, 30, tzinfo=UTC)


def test_one_working_day_from_a_friday_afternoon_ends_with_monday(
    england: WorkingCalendar,
) -> None:
    start = datetime(2026, 12, 18, 15, 30, tzinfo=LONDON)
    due = Duration(amount=1, unit="working_days").after(start, england)
    assert due == datetime(2026, 12, 22, tzinfo=UTC)
    assert due.isoformat() == "2026-12-22T00:00:00+00:00"


def test_working_days_skip_christmas_and_the_boxing_day_substitute(
    england: WorkingCalendar,
) -> None:
    # Thu 24 Dec 2026 + 1 working day: Fri 25 and Mon 28 are holidays, so day 1 is Tue 29.
    start = datetime(2026, 12, 24, 10, tzinfo=LONDON)
    assert Duration(amount=1, unit="working_days").after(start, england) == datetime(
        2026, 12, 30, tzinfo=UTC)


def test_working_hours_resume_at_the_next_opening(england: WorkingCalendar) -> None:
    # Fri 18 Dec 2026 16:00: one hour to 17:00 Friday, then 09:00-10:00 Monday 21 Dec.
    start = datetime(2026, 12, 18, 16, tzinfo=LONDON)
    assert Duration(amount=2, unit="working_hours").after(start, england) == datetime(
        2026, 12, 21, 10, tzinfo=UTC)


def test_calendar_months_keep_the_wall_clock_and_clamp_to_month_end(
    england: WorkingCalendar,
) -> None:
    month = Duration(amount=1, unit="calendar_months")
    assert month.after(datetime(2026, 1, 31, 10, tzinfo=LONDON), england) == datetime(
        2026, 2, 28, 10, tzinfo=UTC)
    # 12:00 GMT on 15 Mar is 12:00 BST on 15 Apr, i.e. 11:00 UTC.
    assert month.after(datetime(2026, 3, 15, 12, tzinfo=LONDON), england) == datetime(
        2026, 4, 15, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "unit", "words"),
    [
        (1, "working_days", "1 working day"),
        (5, "working_days", "5 working days"),
        (1, "elapsed_hours", "1 elapsed hour"),
        (4, "elapsed_hours", "4 elapsed hours"),
        (1, "working_hours", "1 working hour"),
        (1, "calendar_months", "1 calendar month"),
        (3, "calendar_months", "3 calendar months"),
    ],
)
def test_describe_is_singular_for_one_and_plural_otherwise(
    amount: int, unit: str, words: str
) -> None:
    assert Duration.model_validate({"amount": amount, "unit": unit}).describe() == words


def test_the_default_ladder_has_four_stages_of_five_working_days(book: PolicyBook) -> None:
    for partnership in SHIPPED:
        ladder = book.for_partnership(partnership).escalation_ladder
        assert [s.stage for s in ladder] == [1, 2, 3, 4]
        assert {s.within.describe() for s in ladder} == {"5 working days"}
    assert book.for_partnership("default").escalation_stage(4).roles == [  # type: ignore[union-attr]
        "partnership_representative"]


def test_a_pack_s_own_ladder_replaces_the_default(tmp_path: Path) -> None:
    text = DEFAULT_TEXT + (
        "escalation_ladder:\n"
        "  - {stage: 1, name: Team manager, roles: [team_manager],\n"
        "     within: {amount: 2, unit: working_days}}\n"
        "  - {stage: 2, name: Head of service, roles: [service_manager],\n"
        "     answered_by: [team_manager]}\n")
    pack = load_pack(write(tmp_path, text))
    assert [(s.name, s.within.amount, s.answered_by) for s in pack.escalation_ladder] == [
        ("Team manager", 2, ["team_manager", "navigator"]),
        ("Head of service", 5, ["team_manager"])]


def test_a_ladder_stage_out_of_order_is_named_with_its_line(tmp_path: Path) -> None:
    text = DEFAULT_TEXT + (
        "escalation_ladder:\n"
        "  - {stage: 1, name: Team manager, roles: [team_manager]}\n"
        "  - {stage: 3, name: Director, roles: [assistant_director]}\n")
    file = write(tmp_path, text)
    line = line_of(text, "stage: 3")
    assert (f"{file}:{line}: escalation_ladder[1].stage: stage 3 is listed 2"
            in refusal(file))


def test_a_ladder_stage_answered_by_a_social_worker_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_TEXT + (
        "escalation_ladder:\n"
        "  - {stage: 1, name: Team manager, roles: [team_manager],\n"
        "     answered_by: [social_worker]}\n")
    file = write(tmp_path, text)
    assert f"{file}:{line_of(text, 'social_worker')}: escalation_ladder[0].answered_by[0]" \
        in refusal(file)
