"""How complete and clear a referral is, told to the referrer before triage (DOMAIN.md §4).

Poor information leads either to missed risk or to overly intrusive intervention [000], so
intake scores every referral and tells the referrer exactly what is missing or unclear. The
assessment never blocks a safeguarding referral: it only informs. Everything here is pure:
no clock, no database, no I/O.

The codes are the released ``missing_or_unclear`` codes of
``mash.intake.referral.accepted.v1``; no other code may be produced. Every finding carries
one of them, the path of the field concerned and a plain-English message that names no value
from the referral (a message may be logged or sent on; the referral's content must not be).

Dates that cannot be right (a birth in the future, say) are not a quality matter but an
error in the submission: ``date_errors`` finds them, given today's date by the caller.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, Literal, NamedTuple, get_args

from intake.contacts.api_models import PersonIn, ReferralIn
from mashcore.plainwords import Matcher

QualityCode = Literal[
    "no_date_of_birth",
    "no_parent_contact",
    "no_consent_answer",
    "past_or_present_unclear",
    "child_not_spoken_to_unknown",
    "jargon_in_concern",
    "missing_agency_section",
]
QUALITY_CODES: tuple[QualityCode, ...] = get_args(QualityCode)
FindingCode = QualityCode | Literal["fact_without_context"]
"""``fact_without_context`` (issue 20) is told to the referrer only: it is not scored and not
a released code, so it never goes into the event's ``missing_or_unclear``."""

# The completeness score starts at 100 and loses at most each code's weight; the weights sum
# to 100, so a referral with every finding scores 0 and one with none scores 100. Why these:
# - no_date_of_birth 25: names and dates of birth are how every MASH partner searches its
#   records; without them nothing can be checked and the wrong person may be found ([001]
#   "basic details such as dob ... are critical", the ambulance example; [000] probation
#   "with no details of the child there is very little Children's Services can do"). The
#   children the referral is about carry 15, shared equally; everyone else listed (siblings,
#   parents and carers, others in the home) shares 10.
# - no_consent_answer 20: the consent gate at triage (DOMAIN.md §5) cannot be applied without
#   the answers, and the hub must chase them. Consent to the referral 10, to information
#   sharing 6, discussed with the parents 2, parents aware 2.
# - no_parent_contact 15: the hub cannot reach or visit the family ([001] "contact details for
#   the parent", [003 q2] "phone numbers in particular mean families can be contacted
#   quickly"; the postcode decides the area team). A parent's phone or email 10, the home
#   address with its postcode 5.
# - past_or_present_unclear 15: "it is not clear if the concern is in the past or present" is
#   the first mark of a poor referral [000]. The past/present answer 10, dates or times 5.
# - child_not_spoken_to_unknown 10: a good referral has spoken to the child [000]; what the
#   child says is central to the decision. Not applicable when every child is unborn.
# - missing_agency_section 10: each agency knows things no one else does [000]; only for the
#   agencies §4 gives a section.
# - jargon_in_concern 5: the information is there but may be misread [000, 003 q4]; it costs
#   least because it is the easiest to ask about.
# Other parts of §4 (Signs of Safety, what has been tried, other professionals, the
# referrer's view of need) have no released code, so they are not scored: a score the
# referrer cannot be told the reasons for would not help them.
WEIGHTS: dict[QualityCode, int] = {
    "no_date_of_birth": 25,
    "no_parent_contact": 15,
    "no_consent_answer": 20,
    "past_or_present_unclear": 15,
    "child_not_spoken_to_unknown": 10,
    "jargon_in_concern": 5,
    "missing_agency_section": 10,
}

AGENCY_SECTIONS: dict[str, Literal["health", "camhs", "probation", "housing", "education"]] = {
    "health": "health",
    "camhs": "camhs",
    "probation": "probation",
    "housing": "housing",
    "education": "education",
}
"""The referrer agencies (as in their credentials) that have their own section in §4."""

_SECTION_ASKS = {
    "health": "which part of health you work for, the presenting need, when the child arrived, "
    "the treatment and advice given, who was with the child, other professionals involved "
    "(with any ambulance or police log number), any differences in the accounts given, "
    "previous similar presentations and any concern about discharge",
    "camhs": "who referred the child to your service, how long you have worked with them, any "
    "diagnosis, the history in date order, the risks and how they are managed, and why the "
    "child's needs should now go to children's services",
    "probation": "the offence, the sentencing date and sentence, the person's contact with "
    "children and whether it is supervised, any restrictions, and the assessed level of risk",
    "housing": "when the homeless application was made, why the family is homeless, the "
    "support offered, any known domestic abuse, family or friends they could stay with, "
    "recourse to public funds, immigration status and how they have managed so far",
    "education": "when and how the concern came to your attention, whether the child "
    "disclosed directly, whether you spoke to the parents (or why not), the child's context in "
    "school, the support offered and any previous concerns",
}


@dataclass(frozen=True)
class Finding:
    """One thing missing or unclear: its code, the field concerned, and what to do."""

    code: FindingCode
    field: str
    message: str


@dataclass(frozen=True)
class QualityAssessment:
    """A referral's completeness score (0-100), its codes, and the findings behind them."""

    completeness_score: int
    missing_or_unclear: list[QualityCode]
    findings: list[Finding]

    def event_data(self) -> dict[str, Any]:
        """The ``quality`` block of ``mash.intake.referral.accepted.v1``."""
        return {"completeness_score": self.completeness_score,
                "missing_or_unclear": list(self.missing_or_unclear)}


class DateError(NamedTuple):
    """A date in the submission that cannot be right."""

    field: str
    message: str


_Loss = tuple[Finding, Fraction]


def assess(submission: ReferralIn, agency: str,
           plain: Matcher | None = None) -> QualityAssessment:
    """Score a referral's completeness and say what is missing or unclear.

    ``agency`` is the referrer's agency from their credentials (e.g. ``health``); ``plain``
    the partnership's phrase lists, to ask why where a fact lacks its context.
    """
    losses: list[_Loss] = [
        *_dates_of_birth(submission),
        *_parent_contact(submission),
        *_consent(submission),
        *_timing(submission),
        *_child_spoken_to(submission),
        *_jargon(submission),
        *_agency_section(submission, agency),
    ]
    lost: dict[str, Fraction] = {}
    for finding, points in losses:
        lost[finding.code] = lost.get(finding.code, Fraction(0)) + points
    total = Fraction(0)
    for code in QUALITY_CODES:
        if code in lost:
            total += min(lost[code], Fraction(WEIGHTS[code]))
    return QualityAssessment(
        # Rounded down: any finding at all keeps the score below 100.
        completeness_score=max(0, math.floor(100 - total)),
        missing_or_unclear=[code for code in QUALITY_CODES if code in lost],
        findings=[finding for finding, _ in losses]
        + (_facts_without_context(submission, plain) if plain is not None else []),
    )


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


# --- no_date_of_birth ------------------------------------------------------------------------

_OTHERS = (
    ("siblings", "Sibling"),
    ("parents_carers", "Parent or carer"),
    ("other_adults_in_home", "Other adult in the home"),
    ("other_children_in_home", "Other child in the home"),
)


def _listed_people(submission: ReferralIn) -> Iterator[tuple[str, str, PersonIn]]:
    """Everyone listed besides the children: (field path, label, person)."""
    for field, label in _OTHERS:
        people: list[PersonIn] = list(getattr(submission, field))
        for i, person in enumerate(people):
            yield f"{field}[{i}]", f"{label} {i + 1}", person


def _dates_of_birth(submission: ReferralIn) -> Iterator[_Loss]:
    code: QualityCode = "no_date_of_birth"
    child_share = Fraction(15, len(submission.children))
    for i, child in enumerate(submission.children):
        label = f"Child {i + 1}"
        if child.unborn:
            if child.expected_date is None:
                yield Finding(
                    code, f"children[{i}].expected_date",
                    f"{label} is an unborn baby but the expected date of delivery is not "
                    "given. Give it (an estimate is fine): it tells the hub how soon the baby "
                    "will be born and how urgent the response must be.",
                ), child_share
        elif child.date_of_birth is None:
            if child.identity_unknown:
                message = (
                    f"It is not said who {label.lower()} is: there is no name and no date of "
                    "birth. Say exactly who the concern is about. Partner agencies cannot "
                    "search their records without a name and date of birth, and a concern "
                    "about an unnamed patient may be taken to be about an adult, such as a "
                    "parent, rather than a child."
                )
            else:
                message = (
                    f"{label} has no date of birth. Partner agencies search their records by "
                    "name and date of birth; without it they may not find the child, or may "
                    "find the wrong one. An age alone is not enough."
                )
            yield Finding(code, f"children[{i}].date_of_birth", message), child_share
    others = list(_listed_people(submission))
    for path, label, person in others:
        if person.date_of_birth is None:
            yield Finding(
                code, f"{path}.date_of_birth",
                f"{label} has no date of birth. Partner agencies search their records by name "
                "and date of birth; without it they may not find this person, or may find the "
                "wrong one. An age alone is not enough.",
            ), Fraction(10, len(others))


# --- no_parent_contact -----------------------------------------------------------------------


def _parent_contact(submission: ReferralIn) -> Iterator[_Loss]:
    code: QualityCode = "no_parent_contact"
    if not submission.parents_carers:
        yield Finding(
            code, "parents_carers",
            "No parent or carer is named. Give the name and phone number of at least one "
            "parent or carer so the hub can contact the family quickly.",
        ), Fraction(10)
    elif all(_blank(p.phone) and _blank(p.email) for p in submission.parents_carers):
        yield Finding(
            code, "parents_carers",
            "No phone number or email address is given for any parent or carer. Give at "
            "least one so the hub can contact the family quickly.",
        ), Fraction(10)
    address = submission.address
    if address is None:
        yield Finding(
            code, "address",
            "The child's home address is not given. Give the address and postcode (or say "
            "that the family has no fixed abode): the postcode decides which area team "
            "covers the family.",
        ), Fraction(5)
    elif address.postcode is None and not address.no_fixed_abode:
        yield Finding(
            code, "address.postcode",
            "The postcode of the child's home is not given. Give it: the postcode decides "
            "which area team covers the family.",
        ), Fraction(5)


# --- no_consent_answer -----------------------------------------------------------------------

_CONSENT_QUESTIONS = (
    ("discussed_with_parents", 2,
     "It is not said whether you discussed the referral with the parents or carers. Say "
     "whether you did; if not, say why not."),
    ("parents_aware", 2,
     "It is not said whether the parents or carers know that this referral is being made."),
    ("consent_to_referral", 10,
     "It is not said whether the parents or carers consented to the referral. Say whether "
     "they did; if they did not, or you did not ask, say why and what attempts were made."),
    ("consent_to_information_sharing", 6,
     "It is not said whether the parents or carers consented to their information being "
     "shared between agencies. Say whether they did; if not, say why not."),
)


def _consent(submission: ReferralIn) -> Iterator[_Loss]:
    code: QualityCode = "no_consent_answer"
    consent = submission.consent
    if consent is None:
        yield Finding(
            code, "consent",
            "The consent questions are not answered. Say whether you discussed the referral "
            "with the parents or carers, whether they know about it, and whether they "
            "consented to the referral and to their information being shared; if not, say "
            "why not and what attempts were made. Without the answers the hub must ask "
            "before it can decide.",
        ), Fraction(WEIGHTS[code])
        return
    for field, points, message in _CONSENT_QUESTIONS:
        if getattr(consent, field) is None:
            yield Finding(code, f"consent.{field}", message), Fraction(points)


# --- past_or_present_unclear -----------------------------------------------------------------


def _timing(submission: ReferralIn) -> Iterator[_Loss]:
    code: QualityCode = "past_or_present_unclear"
    concern = submission.concern
    if concern.past_or_present is None:
        yield Finding(
            code, "concern.past_or_present",
            "It is not said whether this is happening now, happened in the past, or both. "
            "Say which: the hub weighs a current risk differently from a past one.",
        ), Fraction(10)
    elif concern.past_or_present == "unclear":
        yield Finding(
            code, "concern.past_or_present",
            "You said it is unclear whether this is happening now or happened in the past. "
            "If you can find out, say which; if not, say what you know about when it "
            "happened.",
        ), Fraction(10)
    if not concern.when and _blank(concern.when_description):
        yield Finding(
            code, "concern.when",
            "No dates or times are given for what happened. Give them, or say in words when "
            "it happened: they show whether the risk is current and how often it happens.",
        ), Fraction(5)


# --- child_not_spoken_to_unknown -------------------------------------------------------------


def _child_spoken_to(submission: ReferralIn) -> Iterator[_Loss]:
    code: QualityCode = "child_not_spoken_to_unknown"
    if all(child.unborn for child in submission.children):
        return
    answer = submission.concern.child_spoken_to
    if answer is None:
        yield Finding(
            code, "concern.child_spoken_to",
            "It is not said whether anyone has spoken to the child about this. Say whether "
            "they have and what the child said; if not (for example a baby), say why not.",
        ), Fraction(WEIGHTS[code])
    elif answer == "unknown":
        yield Finding(
            code, "concern.child_spoken_to",
            "You said you do not know whether anyone has spoken to the child. Find out if you "
            "can: what the child says is central to the decision.",
        ), Fraction(WEIGHTS[code])


# --- jargon_in_concern -----------------------------------------------------------------------

GLOSSARY: dict[str, str] = {
    "DV": "domestic violence",
    "DA": "domestic abuse",
    "NFA": "no further action",
    "CIN": "child in need",
    "CP": "child protection",
    "CPP": "child protection plan",
    "LAC": "looked-after child",
    "CLA": "child looked after",
    "CSE": "child sexual exploitation",
    "CCE": "child criminal exploitation",
    "ASB": "anti-social behaviour",
    "CAMHS": "child and adolescent mental health services",
    "EHA": "early help assessment",
    "SEN": "special educational needs",
    "SEND": "special educational needs and disabilities",
    "EHCP": "education, health and care plan",
    "DSL": "designated safeguarding lead",
    "LADO": "local authority designated officer",
    "MARAC": "multi-agency risk assessment conference",
    "MAPPA": "multi-agency public protection arrangements",
    "ICPC": "initial child protection conference",
    "FGM": "female genital mutilation",
    "NAI": "non-accidental injury",
    "DNA": "did not attend",
    "FTT": "failure to thrive",
    "UASC": "unaccompanied asylum-seeking child",
    "YOS": "youth offending service",
    "SW": "social worker",
    "HV": "health visitor",
    "ED": "emergency department",
    "OD": "overdose",
    "SH": "self-harm",
}
"""Common safeguarding and medical acronyms, matched in capitals as whole words."""

SHORTHAND: dict[str, tuple[str, str]] = {
    "s47": (r"(?<![A-Za-z0-9])[sS]\.?\s?47(?![0-9])", "a section 47 child protection enquiry"),
    "s17": (r"(?<![A-Za-z0-9])[sS]\.?\s?17(?![0-9])", "a section 17 child in need assessment"),
    "pt": (r"(?i)(?<![a-z0-9])pts?(?![a-z0-9])", "patient"),
    "hx": (r"(?i)(?<![a-z0-9])hx(?![a-z0-9])", "history"),
}
"""Shorthand matched in any case: section numbers and clinical note-taking."""

_QUERY_MARK = re.compile(r"(?:^|(?<=\s))\?\s?(?=[A-Za-z])")
"""Clinical shorthand: a question mark before a word, meaning 'possible' ('? self harm')."""

# Capitalised words that are not jargon: abbreviations everyone knows, and everyday English
# words written in capitals for emphasis ("he did NOT come home").
COMMON_CAPITALS = frozenset({
    "GP", "NHS", "UK", "OK", "TV", "ID", "PE", "AM", "PM", "MASH", "BBC", "DJ", "CCTV", "ASAP",
    "PC", "NO", "NOT", "NEVER", "NOW", "VERY", "ALL", "ONLY", "MUST", "AND", "BUT", "THE", "OR",
    "IF", "SO", "AS", "AT", "BY", "FOR", "FROM", "IN", "INTO", "OF", "ON", "TO", "UP", "WITH",
    "OUT", "OFF", "OVER", "HE", "SHE", "IT", "WE", "US", "ME", "MY", "HIM", "HER", "HIS", "ITS",
    "OUR", "YOU", "YOUR", "THEY", "THEM", "THEIR", "THIS", "THAT", "THESE", "THOSE", "WHO",
    "WHAT", "WHEN", "WHERE", "WHY", "HOW", "IS", "ARE", "WAS", "WERE", "BE", "BEEN", "BEING",
    "HAS", "HAVE", "HAD", "DO", "DOES", "DID", "DONE", "CAN", "COULD", "WILL", "WOULD", "SHALL",
    "SHOULD", "MAY", "MIGHT", "CANNOT", "YES", "ANY", "SOME", "MORE", "MOST", "LESS", "EVERY",
    "EACH", "BOTH", "AGAIN", "ALWAYS", "STILL", "JUST", "EVEN", "ALSO", "TOO", "URGENT",
    "PLEASE", "HELP", "SAFE", "UNSAFE", "SCARED", "HURT", "HIT", "ALONE", "HOME", "NEW", "OLD",
    "MUM", "DAD",
})
_CAPITALS = re.compile(r"\b[A-Z]{2,6}\b(?!['\u2019][A-Za-z])")  # not DON'T, CAN'T
_WORDS = re.compile(r"\b[A-Za-z]{2,}\b")

_CONCERN_TEXTS = (
    ("summary", "summary of the concern"),
    ("who", "description of who is involved"),
    ("where", "description of where it happened"),
    ("when_description", "description of when it happened"),
    ("frequency", "description of how often it happens"),
    ("child_spoken_to_details", "account of what the child said"),
    ("impact_on_child", "description of the impact on the child"),
)


def _concern_texts(submission: ReferralIn) -> Iterator[tuple[str, str, str]]:
    """(field path, label, text) of every free text in the concern."""
    concern = submission.concern
    for field, label in _CONCERN_TEXTS:
        text = getattr(concern, field)
        if text:
            yield f"concern.{field}", label, text
    for i, when in enumerate(concern.when):
        if when.what_happened:
            yield f"concern.when[{i}].what_happened", f"date entry {i + 1}", when.what_happened
    for i, entry in enumerate(concern.chronology):
        yield (f"concern.chronology[{i}].what_happened", f"chronology entry {i + 1}",
               entry.what_happened)


def _names(submission: ReferralIn) -> set[str]:
    """Every name in the referral, in capitals: a surname written in capitals is not jargon."""
    parts: list[str | None] = [submission.referrer.name]
    if submission.referrer.deputy:
        parts.append(submission.referrer.deputy.name)
    for child in submission.children:
        parts += [child.first_name, child.last_name, child.father_name]
    for _, _, person in _listed_people(submission):
        parts += [person.first_name, person.last_name]
    parts += [p.name for p in submission.other_professionals]
    return {word.upper() for part in parts if part for word in re.split(r"[\s\-']+", part)}


def _explained(term: str, text: str) -> bool:
    """`domestic violence (DV)` or `DV (domestic violence)`: the reader is told."""
    escaped = re.escape(term)
    return bool(re.search(rf"\(\s*{escaped}\s*\)|\b{escaped}\s*\(\s*[A-Za-z]", text))


def _jargon_in(text: str, names: set[str]) -> list[str]:
    """What in ``text`` a reader outside the referrer's agency may not understand."""
    found: list[str] = []
    for term, meaning in GLOSSARY.items():
        if term not in text or term in names:  # the pattern holds the term as it is
            continue
        pattern = rf"(?<![A-Za-z0-9]){re.escape(term)}(?![A-Za-z0-9])"
        if re.search(pattern, text) and not _explained(term, text):
            found.append(f"{term} ({meaning})")
    for term, (pattern, meaning) in SHORTHAND.items():
        if re.search(pattern, text):
            found.append(f"{term} ({meaning})")
    if _QUERY_MARK.search(text):
        found.append("a question mark before a word, used to mean 'possible'")
    words = _WORDS.findall(text)
    shouting = sum(1 for w in words if w.isupper()) > len(words) / 2
    if not shouting:  # text typed in capitals is hard to read, but not jargon
        unexplained = {
            token for token in _CAPITALS.findall(text)
            if token not in GLOSSARY and token not in COMMON_CAPITALS and token not in names
            and not _explained(token, text)
        }
        if unexplained:
            # Never echoed: an unknown capitalised word may be a name or other personal data.
            count = len(unexplained)
            found.append(f"{count}{' other' if found else ''} capitalised "
                         f"abbreviation{'s' if count > 1 else ''} that "
                         f"{'are' if count > 1 else 'is'} not explained")
    return found


def _jargon(submission: ReferralIn) -> Iterator[_Loss]:
    code: QualityCode = "jargon_in_concern"
    names = _names(submission)
    for path, label, text in _concern_texts(submission):
        found = _jargon_in(text, names)
        if found:
            yield Finding(
                code, path,
                f"The {label} uses abbreviations or jargon that people outside your agency "
                f"may not understand: {'; '.join(found)}. Spell them out in plain words.",
            ), Fraction(WEIGHTS[code])


# --- fact_without_context (issue 20) ----------------------------------------------------------


def _facts_without_context(submission: ReferralIn, plain: Matcher) -> list[Finding]:
    """A missed appointment, an absence, an injury ... reported without why, since when or
    how often: ask for it, naming the fact (never the referrer's words)."""
    texts = list(_concern_texts(submission))
    if plain.gives_context(" \n".join(text for _, _, text in texts)):
        return []
    findings: list[Finding] = []
    asked: set[str] = set()
    for path, label, text in texts:
        for hit in plain.found(text, kinds=("ask_why",)):
            if hit.rule.code in asked:
                continue
            asked.add(hit.rule.code)
            findings.append(Finding(
                "fact_without_context", path,
                f"The {label} mentions {hit.rule.about} but not why, since when or how often. "
                "Say what you know of the reason, when it started and how often it happens: "
                "the why is what focuses the support.",
            ))
    return findings


# --- missing_agency_section ------------------------------------------------------------------


def _agency_section(submission: ReferralIn, agency: str) -> Iterator[_Loss]:
    section_name = AGENCY_SECTIONS.get(agency.strip().lower())
    if section_name is None:
        return
    sections = submission.agency_sections
    section = getattr(sections, section_name) if sections is not None else None
    if section is None or not section.model_dump(exclude_defaults=True):
        title = "CAMHS" if section_name == "camhs" else section_name
        yield Finding(
            "missing_agency_section", f"agency_sections.{section_name}",
            f"The {title} section is not filled in. It asks what only your agency can tell "
            f"the hub: {_SECTION_ASKS[section_name]}.",
        ), Fraction(WEIGHTS["missing_agency_section"])


# --- dates that cannot be right --------------------------------------------------------------

UNBORN_OVERDUE = timedelta(weeks=2)
"""An expected date further in the past than this means the baby has probably been born."""


def age_on(born: date, today: date) -> int:
    """Completed years of age on ``today`` (a 29 February birthday counts from 1 March)."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def date_errors(submission: ReferralIn, today: date) -> list[DateError]:
    """Dates that cannot be right on ``today``: the submission must be corrected."""
    errors: list[DateError] = []
    for i, child in enumerate(submission.children):
        path = f"children[{i}]"
        if child.date_of_birth is not None:
            if child.date_of_birth > today:
                errors.append(DateError(
                    f"{path}.date_of_birth",
                    "must not be in the future; for an unborn baby set unborn and give "
                    "expected_date",
                ))
            elif age_on(child.date_of_birth, today) >= 18 and _blank(child.over_18_reason):
                errors.append(DateError(
                    f"{path}.over_18_reason",
                    "required because this young person is 18 or over: say why the referral "
                    "is about them, or correct the date of birth",
                ))
        if (child.unborn and child.expected_date is not None
                and child.expected_date < today - UNBORN_OVERDUE):
            errors.append(DateError(
                f"{path}.expected_date",
                "is more than two weeks in the past: if the baby has been born, give the "
                "date of birth instead",
            ))
    for path, _, person in _listed_people(submission):
        if person.date_of_birth is not None and person.date_of_birth > today:
            errors.append(DateError(f"{path}.date_of_birth", "must not be in the future"))
    concern = submission.concern
    for i, when in enumerate(concern.when):
        if when.on > today:
            errors.append(DateError(f"concern.when[{i}].on", "must not be in the future"))
    for i, entry in enumerate(concern.chronology):
        if entry.on > today:
            errors.append(DateError(f"concern.chronology[{i}].on", "must not be in the future"))
    return errors
