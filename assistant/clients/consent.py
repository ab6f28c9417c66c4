"""Clients' consents to use their data for personalised material, and purging a client's data.

A consent names one purpose and the SHA-256 of the signed letter (the letter itself is kept by the
firm, not here). Grants, revocations and purges are appended to the audit chain; the audit row's
sequence number is stored beside the consent, so each consent points at its evidence.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from comply import audit
from comply.db import transaction

PURPOSES: dict[str, str] = {
    "daily_commentary": "每日收评",
    "morning_note": "早报",
    "evening_note": "晚报",
    "holdings_diagnosis": "持仓诊断",
}
PURGED_REASON = "客户数据已清除"


class ConsentError(ValueError):
    """A refused consent change or purge; ``str(e)`` is the Chinese message."""


@dataclass(frozen=True)
class Consent:
    """One consent of a client for one purpose; active while not revoked."""

    consent_id: str
    client_id: str
    purpose: str
    document_name: str
    document_sha256: str
    granted_at: datetime
    granted_by: str
    grant_seq: int
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_seq: int | None = None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    @property
    def purpose_name(self) -> str:
        """The Chinese name of the purpose (每日收评 / 早报 / 晚报 / 持仓诊断)."""
        return PURPOSES.get(self.purpose, self.purpose)


_COLUMNS = ("consent_id, client_id, purpose, document_name, document_sha256, granted_at, granted_by, grant_seq, "
            "revoked_at, revoked_by, revoke_seq")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        options = "、".join(f"{k}（{v}）" for k, v in PURPOSES.items())
        raise ConsentError(f"未知用途 {purpose!r}，可选：{options}")
    return purpose


def _client_state(con: duckdb.DuckDBPyConnection, client_id: str) -> str:
    row = con.execute("SELECT state FROM clients WHERE client_id = ?", [client_id]).fetchone()
    if row is None:
        raise ConsentError(f"客户 {client_id} 不存在")
    return row[0]


def _active(con: duckdb.DuckDBPyConnection, client_id: str, purpose: str | None = None) -> list[Consent]:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM consents WHERE client_id = ? AND (? IS NULL OR purpose = ?) AND revoked_at IS NULL "
        "ORDER BY granted_at, purpose, consent_id",
        [client_id, purpose, purpose],
    ).fetchall()
    return [Consent(*r) for r in rows]


def grant(
    con: duckdb.DuckDBPyConnection,
    client_id: str,
    purpose: str,
    document: bytes,
    document_name: str,
    user: str,
    granted_at: datetime | None = None,
) -> Consent:
    """Record a client's consent for one purpose, evidenced by the signed letter (audited as ``consent.grant``).

    ``granted_at`` is when the client signed (naive UTC; default now).

    Raises:
        ConsentError: empty letter, unknown client or purpose, a purged client, or an active consent
            for the same purpose already on record.
    """
    _check_purpose(purpose)
    document_name = Path(document_name or "").name.strip()
    if not document or not document_name:
        raise ConsentError("授权书文件为空：请提供客户签署的授权书")
    digest = hashlib.sha256(document).hexdigest()
    granted_at = granted_at or _now()
    with transaction(con):
        if _client_state(con, client_id) != "active":
            raise ConsentError(f"客户 {client_id} 的数据已清除，不能再登记授权")
        if _active(con, client_id, purpose):
            raise ConsentError(f"客户 {client_id} 已有「{PURPOSES[purpose]}」的有效授权；如需更换授权书，请先撤回")
        seq = audit.append(con, user, "consent.grant", client_id, {
            "client_id": client_id, "purpose": purpose, "document_sha256": digest, "granted_at": granted_at.isoformat(),
        })
        consent = Consent(uuid.uuid4().hex, client_id, purpose, document_name, digest, granted_at, user, seq)
        con.execute(f"INSERT INTO consents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                    [consent.consent_id, client_id, purpose, document_name, digest, granted_at, user, seq])
    return consent


def revoke(con: duckdb.DuckDBPyConnection, client_id: str, purpose: str, user: str) -> Consent:
    """Revoke the client's active consent for a purpose (audited as ``consent.revoke``); return it, revoked.

    Raises:
        ConsentError: unknown purpose or client, or no active consent for that purpose.
    """
    _check_purpose(purpose)
    with transaction(con):
        _client_state(con, client_id)
        active = _active(con, client_id, purpose)
        if not active:
            raise ConsentError(f"客户 {client_id} 没有「{PURPOSES[purpose]}」的有效授权，无需撤回")
        current = active[0]  # grant() keeps at most one active consent per client and purpose
        now = _now()
        seq = audit.append(con, user, "consent.revoke", client_id,
                           {"client_id": client_id, "purpose": purpose, "consent_id": current.consent_id})
        con.execute("UPDATE consents SET revoked_at = ?, revoked_by = ?, revoke_seq = ? WHERE consent_id = ?",
                    [now, user, seq, current.consent_id])
    return replace(current, revoked_at=now, revoked_by=user, revoke_seq=seq)


def has_consent(con: duckdb.DuckDBPyConnection, client_id: str, purpose: str) -> bool:
    """Whether the client has an active consent for the purpose."""
    return bool(_active(con, client_id, _check_purpose(purpose)))


def consents(con: duckdb.DuckDBPyConnection, client_id: str | None = None) -> list[Consent]:
    """Every consent on record (active and revoked), of one client or all, oldest first."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM consents WHERE ? IS NULL OR client_id = ? ORDER BY client_id, granted_at, purpose, consent_id",
        [client_id, client_id],
    ).fetchall()
    return [Consent(*r) for r in rows]


def purge(con: duckdb.DuckDBPyConnection, client_id: str, user: str) -> dict[str, int]:
    """Erase a client's personal data: holdings deleted, profile fields and generated texts cleared.

    The client row stays (state 'purged') so the consents and the audit chain still resolve. Audited as
    ``client.purge`` with counts only. Returns the counts.

    Raises:
        ConsentError: unknown or already purged client, or a consent still active.
    """
    with transaction(con):
        if _client_state(con, client_id) == "purged":
            raise ConsentError(f"客户 {client_id} 的数据已清除")
        active = _active(con, client_id)
        if active:
            names = "、".join(dict.fromkeys(c.purpose_name for c in active))
            raise ConsentError(f"客户 {client_id} 仍有有效授权（{names}），请先撤回授权再清除数据")
        n_holdings = con.execute("SELECT count(*) FROM holdings WHERE client_id = ?", [client_id]).fetchone()[0]
        n_items = con.execute("SELECT count(*) FROM generation_items WHERE client_id = ?", [client_id]).fetchone()[0]
        con.execute("DELETE FROM holdings WHERE client_id = ?", [client_id])
        con.execute("UPDATE clients SET name = NULL, risk_tolerance = NULL, age = NULL, advisor = NULL, "
                    "investor_type = NULL, state = 'purged' WHERE client_id = ?", [client_id])
        con.execute("UPDATE generation_items SET text = NULL, review = NULL, state = 'purged', reason = ? "
                    "WHERE client_id = ?", [PURGED_REASON, client_id])
        con.execute("UPDATE consents SET document_name = ? WHERE client_id = ?", [PURGED_REASON, client_id])
        counts = {"holdings": n_holdings, "generation_items": n_items}
        audit.append(con, user, "client.purge", client_id, {"client_id": client_id, **counts})
    return counts
