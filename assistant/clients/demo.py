"""Loading the synthetic sample clients (``samples/``) through the real importers and consent functions."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import duckdb

from assistant.clients import consent
from assistant.clients.importer import import_clients, import_holdings, import_market
from assistant.clients.tables import read_table

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def _purposes(cell: str) -> list[str]:
    return [p.strip() for p in cell.split(";") if p.strip()]


def load_samples(con: duckdb.DuckDBPyConnection, user: str) -> dict[str, int]:
    """Import the sample clients, holdings and market summary, then grant and revoke their consents.

    Every step is audited. Loading again re-imports the files but records no consent twice: a
    consent whose letter is already on record for that client and purpose is left as it is.
    Returns the counts of rows imported and of consents granted and revoked.
    """
    counts = {
        "clients": import_clients(con, SAMPLES_DIR / "clients.csv", user).rows,
        "holdings": import_holdings(con, SAMPLES_DIR / "holdings.csv", user).rows,
        "market": sum(import_market(con, path, user).rows for path in sorted(SAMPLES_DIR.glob("market_*.csv"))),
        "granted": 0,
        "revoked": 0,
    }
    for row in read_table(SAMPLES_DIR / "consents.csv").rows:
        client_id, letter = row["client_id"], SAMPLES_DIR / row["document"]
        document = letter.read_bytes()
        digest = hashlib.sha256(document).hexdigest()
        on_record = {c.purpose for c in consent.consents(con, client_id) if c.document_sha256 == digest}
        for purpose in _purposes(row["purposes"]):
            if purpose in on_record:
                continue
            consent.grant(con, client_id, purpose, document, letter.name, user,
                          granted_at=datetime.fromisoformat(row["granted_at"]))
            counts["granted"] += 1
        for purpose in _purposes(row.get("revoked", "")):
            if consent.has_consent(con, client_id, purpose):
                consent.revoke(con, client_id, purpose, user)
                counts["revoked"] += 1
    return counts
