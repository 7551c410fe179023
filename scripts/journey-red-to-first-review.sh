#!/usr/bin/env bash
# The whole journey from a Red contact to a held first review conference, with curl, against
# `make run` (start it first, e.g. MASH_NOTIFY_CHANNEL=log_only make run). Needs curl and jq.
# Synthetic people only. Every step prints its HTTP status; the last lines show the clocks.
set -u
cd "$(dirname "$0")/.."
T() { .venv/bin/mash-token --partnership coventry "$@"; }
SCHOOL=$(T --role referrer --agency education --subject school-1)
IO=$(T --role information_officer --agency local_authority --subject io-1)
TM=$(T --role team_manager --agency local_authority --subject tm-1)
SW=$(T --role social_worker --agency local_authority --subject sw-1)
BS=$(T --role business_support --agency local_authority --subject bs-1)
IRO=$(T --role iro --agency local_authority --subject iro-1)
J='Content-Type: application/json'
# 1. A Red contact, rated and decided for a strategy discussion.
REF=$(curl -s -X POST http://127.0.0.1:8001/v1/contacts -H "Authorization: Bearer $SCHOOL" -H "$J" \
  -H "Idempotency-Key: journey-$(date +%s)" -d '{"partnership": "coventry",
  "referrer": {"name": "A Teacher", "role": "DSL", "email": "dsl@school.example"},
  "children": [{"first_name": "Sam", "last_name": "Example", "date_of_birth": "2012-04-02"}],
  "concern": {"summary": "Synthetic: Sam says her aunt plans FGM on a trip abroad."},
  "consent": {"consent_to_referral": "yes", "consent_to_information_sharing": "yes"}}' | jq -r .case_reference)
echo "REF=$REF"
sleep 2   # triage receives the referral over the bus
curl -s -o /dev/null -w "rating %{http_code}\n" -X POST http://127.0.0.1:8002/v1/cases/$REF/rating -H "Authorization: Bearer $IO" \
  -H "$J" -d '{"brag": "red", "safeguarding_concerns": true}'
curl -s -o /dev/null -w "threshold-decision %{http_code}\n" -X POST http://127.0.0.1:8002/v1/cases/$REF/threshold-decision -H "Authorization: Bearer $TM" \
  -H "$J" -d '{"level_code": "L4", "brag": "red", "route": "strategy_discussion",
               "rationale": "Synthetic: risk of FGM abroad."}'
sleep 2   # strategy receives the decision over the bus
S=http://127.0.0.1:8004/v1
# 2. The strategy discussion (held 4 hours ago), s47 with an outcome of continuing risk.
D_AT=$(date -u -d '-4 hour' +%FT%TZ); D_END=$(date -u -d '-3 hour' +%FT%TZ)
MEETING=$(curl -s $S/cases/$REF/strategy-discussions -H "Authorization: Bearer $SW" | jq -r '.[0].meeting_id')
echo "MEETING=$MEETING"
INVITEES='[{"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
           {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
           {"role": "navigator", "agency": "police", "user_id": "pc-1"}]'
curl -s -o /dev/null -w "discussion schedule %{http_code}\n" -X POST $S/strategy-discussions/$MEETING/schedule -H "Authorization: Bearer $TM" -H "$J" -d "{
  \"format\": \"video_call\", \"starts_at\": \"$D_AT\", \"ends_at\": \"$D_END\",
  \"dial_in\": \"https://meet.example/strategy-1\", \"chair_id\": \"tm-1\", \"invitees\": $INVITEES}"
curl -s -o /dev/null -w "discussion held %{http_code}\n" -X POST $S/strategy-discussions/$MEETING/held -H "Authorization: Bearer $TM" -H "$J" -d "{
  \"held_at\": \"$D_AT\", \"attendees\": $INVITEES, \"criminal_investigation\": \"required\",
  \"criminal_investigation_start_by\": \"$D_END\",
  \"s47_decisions\": [{\"child_number\": 1, \"s47\": true}],
  \"s47_decision_rationale\": \"Reasonable cause to suspect significant harm.\",
  \"actions\": [{\"action\": \"Joint visit.\", \"owner_role\": \"social_worker\", \"owner_agency\": \"local_authority\"}]}"
S47=$(curl -s $S/cases/$REF/s47-enquiries -H "Authorization: Bearer $SW" | jq -r '.[0].s47_enquiry_id')
curl -s -o /dev/null -w "s47 outcome %{http_code}\n" -X POST $S/s47-enquiries/$S47/outcome -H "Authorization: Bearer $SW" -H "$J" \
  -d '{"outcome": "substantiated_continuing_risk", "next_step": "icpc", "rationale": "Synthetic: continuing risk."}'
curl -s -o /dev/null -w "s47 agreement %{http_code}\n" -X POST $S/s47-enquiries/$S47/agreement -H "Authorization: Bearer $TM" -H "$J" \
  -d '{"agree": true, "rationale": "Synthetic: agreed."}'
# 3. The ICPC: scheduled (in person, with its end and office), held with a plan.
ICPC=$(curl -s $S/cases/$REF/conferences -H "Authorization: Bearer $SW" | jq -r '.[0].meeting_id')
echo "ICPC=$ICPC"
C_AT=$(date -u -d '-2 hour' +%FT%TZ); C_END=$(date -u -d '-1 hour' +%FT%TZ)
CONF_INVITEES='[{"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
  {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
  {"role": "navigator", "agency": "police", "user_id": "pc-1"},
  {"role": "parent_or_carer"}, {"role": "advocate"}]'
curl -s -w "\nicpc schedule %{http_code}\n" -X POST $S/conferences/$ICPC/schedule -H "Authorization: Bearer $BS" -H "$J" -d "{
  \"scheduled_for\": \"$C_AT\", \"ends_at\": \"$C_END\", \"format\": \"meeting\",
  \"location\": \"Civic Centre, Room 4\", \"chaired_by_iro\": \"iro-1\", \"invitees\": $CONF_INVITEES}" | jq -c '{status, scheduled_for, ends_at, format, location, sequence}' 2>/dev/null || true
FIRST_REVIEW=$(date -u -d '+80 day' +%F)
PLAN=$(curl -s -X POST $S/conferences/$ICPC/held -H "Authorization: Bearer $IRO" -H "$J" -d "{
  \"held_at\": \"$C_AT\", \"attendees\": $CONF_INVITEES,
  \"decisions\": [{\"child_number\": 1, \"plan\": true, \"category_of_abuse\": [\"physical\"],
    \"core_group\": [{\"role\": \"social_worker\", \"agency\": \"local_authority\", \"user_id\": \"sw-1\"},
                     {\"role\": \"practitioner\", \"agency\": \"health\", \"user_id\": \"hv-1\"},
                     {\"role\": \"parent_or_carer\"}],
    \"first_review_due_on\": \"$FIRST_REVIEW\"}]}" | jq -r '.decisions[0].plan_id')
echo "PLAN=$PLAN"
# 4. The first review conference: scheduled online (end and dial-in), then held: the plan continues.
R_AT=$(date -u -d '-1 hour' +%FT%TZ); R_END=$(date -u -d '-30 min' +%FT%TZ)
NEXT_REVIEW=$(date -u -d '+5 month' +%F)
REVIEW_INVITEES='[{"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
  {"role": "practitioner", "agency": "health", "user_id": "hv-1"}, {"role": "parent_or_carer"}]'
REVIEW=$(curl -s -X POST $S/plans/$PLAN/reviews -H "Authorization: Bearer $BS" -H "$J" -d "{
  \"scheduled_for\": \"$R_AT\", \"ends_at\": \"$R_END\", \"format\": \"video_call\",
  \"dial_in\": \"https://meet.example/review-1\", \"chaired_by_iro\": \"iro-1\",
  \"invitees\": $REVIEW_INVITEES}" | jq -r .meeting_id)
echo "REVIEW=$REVIEW"
curl -s -w "\nreview held %{http_code}\n" -X POST $S/review-conferences/$REVIEW/held -H "Authorization: Bearer $IRO" -H "$J" -d "{
  \"held_at\": \"$R_AT\", \"attendees\": $REVIEW_INVITEES, \"decision\": \"continue\",
  \"category_of_abuse\": [\"physical\"], \"next_review_due_on\": \"$NEXT_REVIEW\",
  \"rationale\": \"Synthetic: progress, risk remains.\"}" | tail -c 400
curl -s $S/review-conferences/$REVIEW -H "Authorization: Bearer $IRO" | jq -c '{status, first, due_on, scheduled_for, ends_at, format, dial_in, decision, next_review_due_on}'
curl -s "http://127.0.0.1:8006/v1/clocks?case_reference=$REF" -H "Authorization: Bearer $TM" | jq -c '.[] | {clock, status}' 2>/dev/null | head -20
