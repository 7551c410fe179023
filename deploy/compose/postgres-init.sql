-- Runs once, when the compose PostgreSQL volume is first initialised.
-- One database and one login role per service, as in production: each service owns its
-- database and cannot connect to another's. Passwords are throwaway development values;
-- production credentials live in Kubernetes Secrets, never in this repository.

CREATE ROLE intake LOGIN PASSWORD 'intake-dev';
CREATE DATABASE intake OWNER intake;
REVOKE ALL ON DATABASE intake FROM PUBLIC;

CREATE ROLE triage LOGIN PASSWORD 'triage-dev';
CREATE DATABASE triage OWNER triage;
REVOKE ALL ON DATABASE triage FROM PUBLIC;

CREATE ROLE mash_enquiries LOGIN PASSWORD 'mash-enquiries-dev';
CREATE DATABASE mash_enquiries OWNER mash_enquiries;
REVOKE ALL ON DATABASE mash_enquiries FROM PUBLIC;

CREATE ROLE strategy LOGIN PASSWORD 'strategy-dev';
CREATE DATABASE strategy OWNER strategy;
REVOKE ALL ON DATABASE strategy FROM PUBLIC;

CREATE ROLE notifications LOGIN PASSWORD 'notifications-dev';
CREATE DATABASE notifications OWNER notifications;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;

CREATE ROLE sla_timekeeper LOGIN PASSWORD 'sla-timekeeper-dev';
CREATE DATABASE sla_timekeeper OWNER sla_timekeeper;
REVOKE ALL ON DATABASE sla_timekeeper FROM PUBLIC;
