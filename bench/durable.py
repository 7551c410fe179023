"""PostgreSQL for the benchmark as production runs it, and what it can do raw.

tools/devinfra starts throwaway clusters with ``fsync``, ``synchronous_commit`` and
``full_page_writes`` off (right for tests). A benchmark on such a server flatters every
commit, so the bench turns all three back on (``ALTER SYSTEM``, reload) and checks them
before measuring anything, and measures durable single-row inserts/s on the same server so
intake's figure can be read against what the disk allows.
"""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from devinfra.postgres import PostgresServer
from intake.checks.matching import ChildKey, stored_key

NULL = "\\N"  # COPY text format
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
SYLLABLES = ("ka", "ri", "mo", "la", "den", "tor", "vi", "sha", "nel", "bo", "ra", "lin",
             "ton", "mer", "ash", "ley", "ford", "wyn", "el", "jo")


def make_durable(pg: PostgresServer) -> dict[str, str]:
    """Turn production durability on; return the settings as the server reports them."""
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        for name, value in DURABLE.items():
            conn.execute(f"ALTER SYSTEM SET {name} = {value}")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)  # the postmaster signals its children; a new connection sees it
    with psycopg.connect(pg.conninfo()) as conn:
        shown = {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                 for name in DURABLE}
    if shown != DURABLE:
        raise RuntimeError(f"PostgreSQL is not durable for the bench: {shown}")
    return shown


def raw_inserts(pg: PostgresServer, seconds: float) -> dict[str, float]:
    """Durable single-row INSERTs, one transaction each, on one connection."""
    pg.create_database("bench_raw")
    with psycopg.connect(pg.conninfo("bench_raw"), autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_insert (id uuid PRIMARY KEY, at timestamptz, body text)")
        body = "x" * 600
        rows = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            conn.execute("INSERT INTO raw_insert VALUES (%s, now(), %s)", (uuid.uuid4(), body))
            rows += 1
        elapsed = time.perf_counter() - started
    return {"rows": rows, "seconds": elapsed, "inserts_per_second": rows / elapsed}


def synthetic_name(rng: random.Random) -> str:
    """An invented name made of syllables (letters only, never a placeholder)."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def synthetic_postcode(rng: random.Random) -> str:
    """An invented full-format postcode (area ZZ is not used in the UK)."""
    return f"ZZ{rng.randint(1, 99)} {rng.randint(0, 9)}{rng.choice('ABDEFGHJ')}" \
           f"{rng.choice('LNPQRSTU')}"


def synthetic_child(rng: random.Random) -> dict[str, Any]:
    born = date(2010, 1, 1) + timedelta(days=rng.randint(0, 16 * 365))  # under 18
    return {"first_name": synthetic_name(rng), "last_name": synthetic_name(rng),
            "date_of_birth": born.isoformat()}


def bulk_load_contacts(pg: PostgresServer, dbname: str, count: int, window: timedelta,
                       seed: int = 17) -> float:
    """COPY ``count`` invented stored contacts (received within ``window``) and their
    blocking keys into a migrated intake database; return the seconds it took."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    batch = 100_000
    with psycopg.connect(pg.conninfo(dbname)) as conn:
        for offset in range(0, count, batch):
            contacts, keys = io.StringIO(), io.StringIO()
            for n in range(offset, min(count, offset + batch)):
                child = synthetic_child(rng)
                postcode = synthetic_postcode(rng)
                contact_id = str(uuid.UUID(int=rng.getrandbits(128)))
                received = now - window * rng.random()
                submission = json.dumps({"kind": "referral", "children": [child],
                                         "address": {"postcode": postcode}})
                contacts.write("\t".join([
                    contact_id, f"MASH-2026-S{n:07d}", "referral", "coventry", "health",
                    "bench-stored", "received", received.isoformat(),
                    submission.replace("\\", "\\\\"), "f"]) + "\n")
                key = stored_key(ChildKey(child["first_name"], child["last_name"],
                                          date.fromisoformat(child["date_of_birth"]),
                                          postcode))
                if key is not None:
                    keys.write("\t".join([contact_id, "0", *(
                        str(part) if part else NULL for part in (
                            key.date_of_birth, key.postcode, key.first_name, key.last_name,
                            received.isoformat()))]) + "\n")
            with conn.cursor() as cur:
                with cur.copy("COPY contact (id, case_reference, kind, partnership, "
                              "referrer_agency, referrer_subject, status, received_at, "
                              "submission, restricted) FROM STDIN") as copy:
                    copy.write(contacts.getvalue())
                with cur.copy("COPY contact_match_key (contact_id, child_index, "
                              "date_of_birth, postcode, first_name, last_name, received_at) "
                              "FROM STDIN") as copy:
                    copy.write(keys.getvalue())
            conn.commit()
        # What autovacuum does after bulk inserts (PostgreSQL 13+), done now rather than
        # whenever it wakes during a run: statistics, and the pages marked all-visible, as a
        # table filled over the repeat window is, so index-only scans need not visit them.
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) contact")
        conn.execute("VACUUM (ANALYZE) contact_match_key")
    return time.perf_counter() - started
