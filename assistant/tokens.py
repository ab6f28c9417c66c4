"""API tokens: each acts as its user (the user's role and clearance as the database has them at each call).

A token is 32 random bytes shown once at creation; only its SHA-256 is stored (a high-entropy secret needs
no slow hash). Creating and revoking are audited; a token of a disabled or deleted user, an expired or a
revoked token authenticates nobody.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from assistant.accounts import User, get_user
from comply import audit
from comply.db import transaction

PREFIX = "cmp_"
MAX_DAYS = 3650
_NAME = re.compile(r"[\w.\-]{1,64}")


@dataclass(frozen=True)
class TokenInfo:
    """A token's record (never the token)."""

    token_id: str
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime | None = None) -> bool:
        """Not revoked and not expired at ``now`` (naive UTC)."""
        now = now or _now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def as_json(self) -> dict:
        """The record for listings (ISO times, UTC)."""
        iso = lambda t: t.isoformat(timespec="seconds") + "Z" if t else None  # noqa: E731
        return {"token_id": self.token_id, "user": self.username, "name": self.name, "created_at": iso(self.created_at),
                "expires_at": iso(self.expires_at), "revoked_at": iso(self.revoked_at), "active": self.active()}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_COLUMNS = "token_id, username, name, created_at, expires_at, revoked_at"


def _info(row: tuple) -> TokenInfo:
    return TokenInfo(*row)


def create_token(con: duckdb.DuckDBPyConnection, username: str, name: str = "", days: int = 90,
                 actor: str = "cli") -> tuple[str, TokenInfo]:
    """Create a token for an existing, enabled user, valid for ``days`` (0: never expires); audited ``token.create``.

    Returns the token (shown once) and its record.

    Raises:
        ValueError: unknown or disabled user, a malformed name or one the user's active tokens already have, or days out
            of 0–3650 (messages in Chinese).
    """
    user = get_user(con, username)
    if user is None or user.disabled:
        raise ValueError(f"用户 {username} 不存在或已停用")
    name = name.strip() or f"{username}-token"
    if not _NAME.fullmatch(name):
        raise ValueError("令牌名称须为 1–64 位字母、数字、汉字或 _ . -")
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise ValueError(f"有效期须为 0–{MAX_DAYS} 天（0 表示不过期）")
    token = PREFIX + secrets.token_urlsafe(32)
    now = _now()
    if any(t.name == name and t.active(now) for t in list_tokens(con, username)):
        raise ValueError(f"用户 {username} 已有名为 {name} 的有效令牌（名称记入每次调用的审计日志，须可区分）")
    info = TokenInfo(secrets.token_hex(8), username, name, now, now + timedelta(days=days) if days else None, None)
    with transaction(con):
        con.execute(f"INSERT INTO api_tokens ({_COLUMNS}, token_sha256, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [info.token_id, username, name, now, info.expires_at, None, digest(token), actor])
        audit.append(con, actor, "token.create", info.token_id,
                     {"user": username, "name": name, "expires_at": info.as_json()["expires_at"]})
    return token, info


def list_tokens(con: duckdb.DuckDBPyConnection, username: str | None = None) -> list[TokenInfo]:
    """Tokens (of one user, or all), newest first."""
    where, params = ("WHERE username = ?", [username]) if username else ("", [])
    return [_info(r) for r in con.execute(f"SELECT {_COLUMNS} FROM api_tokens {where} ORDER BY created_at DESC", params).fetchall()]


def revoke_token(con: duckdb.DuckDBPyConnection, token_id: str, actor: str = "cli") -> TokenInfo:
    """Revoke a token by its id (audited ``token.revoke``); revoking a revoked token changes nothing.

    Raises:
        LookupError: no token has this id.
    """
    with transaction(con):
        row = con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_id = ?", [token_id]).fetchone()
        if row is None:
            raise LookupError(f"没有编号为 {token_id} 的令牌")
        info = _info(row)
        if info.revoked_at is not None:
            return info
        now = _now()
        con.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", [now, token_id])
        audit.append(con, actor, "token.revoke", token_id, {"user": info.username, "name": info.name})
    return TokenInfo(info.token_id, info.username, info.name, info.created_at, info.expires_at, now)


def resolve_token(con: duckdb.DuckDBPyConnection, token: str) -> tuple[User, TokenInfo] | None:
    """The user a presented token acts as, with the token's record; None for an unknown, revoked or expired token or
    a user who is disabled or gone."""
    if not token.startswith(PREFIX) or len(token) > 128:
        return None
    row = con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_sha256 = ?", [digest(token)]).fetchone()
    if row is None:
        return None
    info = _info(row)
    if not info.active():
        return None
    user = get_user(con, info.username)
    if user is None or user.disabled:
        return None
    return user, info
