"""Accounts of the app: roles and the pages they may open, argon2id passwords, sign-in limits.

Every account change and every sign-in attempt on an account is appended to the hash-chained audit
log; attempts on names that are no account, and attempts refused by the limits, are summed per source
(``assistant.signin_limits``). A failed sign-in never says whether the username exists: an unknown name
gets the same message, is verified against a dummy hash (so it takes about as long) and is held back
the same way. Passwords follow ``assistant.passwords``.
"""

from __future__ import annotations

import re
import secrets
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assistant import signin_limits as limits
from assistant.passwords import check_password
from comply import audit
from comply.db import transaction
from comply.levels import LEVELS, level_name

ROLES: dict[str, str] = {"compliance": "合规", "marketer": "营销", "evaluator": "评测", "admin": "管理员"}

ALL_PAGES: frozenset[str] = frozenset({"qa", "review", "batch", "review_feedback", "generate", "cases", "kb", "audit", "eval",
                                       "users"})
PAGES: dict[str, frozenset[str]] = {
    "compliance": frozenset({"qa", "review", "batch", "review_feedback", "cases"}),
    "marketer": frozenset({"review", "batch", "generate", "cases"}),
    "evaluator": frozenset({"qa", "review", "batch", "review_feedback", "cases", "eval"}),
    "admin": ALL_PAGES,
}

# who may accept, dismiss or add review findings (the review library trains the next model: a draft's author may not)
DECIDERS: frozenset[str] = frozenset({"compliance", "evaluator", "admin"})


def can_decide(user: User) -> bool:
    """Whether the user's decisions on review findings go into the review library."""
    return not user.disabled and user.role in DECIDERS


_USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,32}")
RESERVED_NAMES = frozenset({"cli"})  # the command line's default actor, and the service's local operator
_INVALID_MESSAGE = "用户名或密码错误"
_MAX_TYPED_NAME = 64  # what is kept of a typed (possibly unknown, possibly hostile) username

# argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile); each hash gets a random salt.
_HASHER = PasswordHasher()
# Unknown usernames are verified against this, so that they take as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(24))
# Attempts on one username are serialised within the process, so parallel guesses cannot slip past
# the limit while a hash is being verified (striped: unknown names must not grow a table of locks).
_NAME_LOCKS = [threading.Lock() for _ in range(64)]


@dataclass(frozen=True)
class User:
    """An account as the app sees it (never carries the password hash)."""

    username: str
    display_name: str
    role: str
    clearance: int
    disabled: bool = False

    @property
    def role_name(self) -> str:
        """The Chinese label of the role (合规 / 营销 / 评测 / 管理员)."""
        return ROLES.get(self.role, self.role)

    @property
    def clearance_name(self) -> str:
        """The Chinese name of the clearance level (公开 / 内部 / 秘密)."""
        return level_name(self.clearance)


class AuthError(Exception):
    """A refused sign-in; ``str(e)`` is the Chinese message.

    ``kind``: 'invalid' (wrong name or password), 'locked' (too many failures: wait until ``until``) or
    'disabled'.
    """

    def __init__(self, kind: str, message: str, until: datetime | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.until = until  # for 'locked': when to try again (UTC, timezone-aware)


def can(user: User, page: str) -> bool:
    """Whether the user may open the page (a disabled account may open none)."""
    return not user.disabled and page in PAGES.get(user.role, frozenset())


# ---------------------------------------------------------------- validation


def _check_username(username: str) -> str:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ValueError("用户名须为 2–32 位字母、数字或 _ . -")
    if username.lower() in RESERVED_NAMES:
        raise ValueError(f"用户名 {username} 保留给本机命令行（审计日志中命令行操作记为此名），请换一个")
    return username


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"未知角色 {role!r}，可选：{' / '.join(ROLES)}")
    return role


def _check_clearance(clearance: int) -> int:
    if isinstance(clearance, bool) or not isinstance(clearance, int) or not 0 <= clearance < len(LEVELS):
        raise ValueError(f"密级超出范围：{clearance!r}，可选 0–{len(LEVELS) - 1}（{' / '.join(LEVELS)}）")
    return clearance


def _utc_naive(moment: datetime | None) -> datetime:
    """A moment as naive UTC (how TIMESTAMP columns hold it); naive input is taken to be UTC."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


# ---------------------------------------------------------------- reading

_COLUMNS = "username, display_name, role, clearance, disabled"


def _user(row: tuple) -> User:
    return User(username=row[0], display_name=row[1], role=row[2], clearance=int(row[3]), disabled=bool(row[4]))


def get_user(con: duckdb.DuckDBPyConnection, username: str) -> User | None:
    """The account with this username, or None."""
    row = con.execute(f"SELECT {_COLUMNS} FROM users WHERE username = ?", [username]).fetchone()
    return _user(row) if row else None


def list_users(con: duckdb.DuckDBPyConnection) -> list[User]:
    """All accounts, by username."""
    return [_user(r) for r in con.execute(f"SELECT {_COLUMNS} FROM users ORDER BY username").fetchall()]


def _active_admins(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled").fetchone()[0]


# ---------------------------------------------------------------- changing


def create_user(
    con: duckdb.DuckDBPyConnection,
    username: str,
    password: str,
    role: str,
    clearance: int,
    display_name: str = "",
    actor: str = "cli",
) -> User:
    """Create an account (audited as ``user.create``).

    Raises:
        ValueError: duplicate or malformed username, unknown role, clearance out of range, or a password
            the policy refuses (``assistant.passwords.check_password``); messages in Chinese.
    """
    _check_username(username)
    _check_role(role)
    _check_clearance(clearance)
    check_password(password, username)
    display_name = (display_name or "").strip() or username
    digest = _HASHER.hash(password)  # slow on purpose: outside the write lock
    now = _utc_naive(None)
    with transaction(con):
        if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise ValueError(f"用户名 {username} 已存在")
        con.execute(
            "INSERT INTO users (username, display_name, role, clearance, password_hash, disabled, created_at, updated_at, "
            "password_changed_at) VALUES (?, ?, ?, ?, ?, FALSE, ?, ?, ?)",
            [username, display_name, role, clearance, digest, now, now, now],
        )
        audit.append(con, actor, "user.create", username,
                     {"role": role, "clearance": level_name(clearance), "display_name": display_name})
    return User(username, display_name, role, clearance, False)


def update_user(
    con: duckdb.DuckDBPyConnection,
    username: str,
    *,
    role: str | None = None,
    clearance: int | None = None,
    disabled: bool | None = None,
    display_name: str | None = None,
    actor: str,
) -> User:
    """Change an account's role, clearance, display name or disabled flag (audited as ``user.update``).

    Raises:
        ValueError: unknown user, unknown role, clearance out of range, or a change that would leave
            no enabled administrator.
    """
    if role is not None:
        _check_role(role)
    if clearance is not None:
        _check_clearance(clearance)
    if display_name is not None:
        display_name = display_name.strip() or username
    with transaction(con):
        current = get_user(con, username)
        if current is None:
            raise ValueError(f"用户 {username} 不存在")
        new = User(
            username,
            current.display_name if display_name is None else display_name,
            current.role if role is None else role,
            current.clearance if clearance is None else clearance,
            current.disabled if disabled is None else bool(disabled),
        )
        if new == current:
            return current
        was_admin = current.role == "admin" and not current.disabled
        if was_admin and not (new.role == "admin" and not new.disabled) and _active_admins(con) <= 1:
            raise ValueError("至少须保留一名启用状态的管理员")
        con.execute(
            "UPDATE users SET display_name = ?, role = ?, clearance = ?, disabled = ?, updated_at = ? WHERE username = ?",
            [new.display_name, new.role, new.clearance, new.disabled, _utc_naive(None), username],
        )
        changes: dict[str, list] = {}
        for field in ("display_name", "role", "clearance", "disabled"):
            old_value, new_value = getattr(current, field), getattr(new, field)
            if old_value != new_value:
                if field == "clearance":
                    old_value, new_value = level_name(old_value), level_name(new_value)
                changes[field] = [old_value, new_value]
        audit.append(con, actor, "user.update", username, changes)
    return new


def set_password(con: duckdb.DuckDBPyConnection, username: str, password: str, actor: str) -> None:
    """Set a new password (audited as ``user.password``, without the hash); clears failed attempts.

    Raises:
        ValueError: unknown user or a password the policy refuses.
    """
    check_password(password, username)
    digest = _HASHER.hash(password)
    now = _utc_naive(None)
    with transaction(con):
        if get_user(con, username) is None:
            raise ValueError(f"用户 {username} 不存在")
        con.execute("UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE username = ?",
                    [digest, now, now, username])
        limits.clear_failures(con, username, now)
        audit.append(con, actor, "user.password", username, {"self": actor == username})


def unlock_user(con: duckdb.DuckDBPyConnection, username: str, actor: str, *, now: datetime | None = None) -> int:
    """End an account's sign-in back-off (audited as ``user.unlock``); return how many failures were cleared.

    Raises:
        ValueError: unknown user.
    """
    with transaction(con):
        if get_user(con, username) is None:
            raise ValueError(f"用户 {username} 不存在")
        cleared = limits.clear_failures(con, username, _utc_naive(now))
        audit.append(con, actor, "user.unlock", username, {"failures_cleared": cleared})
    return cleared


# ---------------------------------------------------------------- signing in


def _locked(until: datetime, prefix: str = "") -> AuthError:
    """The refusal while a back-off lasts (one message for every cause, so it tells nothing about the name)."""
    local = until.replace(tzinfo=UTC).astimezone()
    return AuthError("locked", f"{prefix}登录失败次数过多，请于 {local:%Y-%m-%d %H:%M:%S} 后再试；如需立即登录，请联系管理员",
                     until.replace(tzinfo=UTC))


def _verify(digest: str, password: str) -> bool:
    try:
        return _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(con: duckdb.DuckDBPyConnection, username: str, password: str, *, source: str | None = None,
                 now: datetime | None = None) -> User:
    """Check a username and password; return the account or raise :class:`AuthError`.

    ``source`` identifies where the attempt comes from (the HTTP peer address, or the Streamlit page's
    per-browser-session identifier); it is stored only as a hash and drives the limits of
    ``assistant.signin_limits``: back-off per source and per account (a source that signed in to the
    account before is held back only by its own failures), aggregated logs. The failure that starts a
    back-off already says so.
    Unknown names are treated like wrong passwords. ``now`` (default: the current time) is for tests.
    """
    now_utc = _utc_naive(now)
    name = str(username or "")[:_MAX_TYPED_NAME]
    password = password if isinstance(password, str) else ""
    digest = limits.source_hash(source)
    with _NAME_LOCKS[zlib.crc32(name.encode("utf-8")) % len(_NAME_LOCKS)]:
        limits.flush_bursts(con, now_utc)
        row = con.execute(f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?", [name]).fetchone()
        until = limits.refused_until(con, name, row is not None, digest, now_utc)
        if until is not None:
            limits.record_refusal(con, name, now_utc, digest, until)
            raise _locked(until)
        ok = _verify(row[5] if row else _DUMMY_HASH, password)
        if row is None or not ok:
            if row is None:
                limits.record_unknown(con, name, now_utc, digest)
            else:
                limits.record_attempt(con, name, now_utc, False, "invalid", digest, {})
            until = limits.refused_until(con, name, row is not None, digest, now_utc)
            if until is not None:
                raise _locked(until, f"{_INVALID_MESSAGE}。")
            raise AuthError("invalid", _INVALID_MESSAGE)
        user = _user(row)
        if user.disabled:
            limits.record_attempt(con, name, now_utc, False, "disabled", digest, {})
            raise AuthError("disabled", "该账户已停用，请联系管理员")
        new_hash = _HASHER.hash(password) if _HASHER.check_needs_rehash(row[5]) else None
        limits.record_attempt(con, name, now_utc, True, "ok", digest, {"role": user.role, "rehashed": new_hash is not None},
                              new_hash)
        return user


def link_oidc(con: duckdb.DuckDBPyConnection, username: str, email: str | None, actor: str) -> None:
    """Let an account sign in through the identity provider with this e-mail (``None`` unlinks it)."""
    email = email.strip().lower() if email else None
    if get_user(con, username) is None:
        raise ValueError(f"用户 {username} 不存在")
    if email and con.execute("SELECT 1 FROM users WHERE oidc_email = ? AND username <> ?", [email, username]).fetchone():
        raise ValueError(f"邮箱 {email} 已关联其他账户")
    with transaction(con):
        con.execute("UPDATE users SET oidc_email = ? WHERE username = ?", [email, username])
        audit.append(con, actor, "user.oidc", username, {"email": email})


def user_for_oidc(con: duckdb.DuckDBPyConnection, email: str | None, *, now: datetime | None = None) -> User:
    """The account linked to an e-mail the identity provider vouched for; audited like a password sign-in.

    Raises:
        AuthError: no account is linked to the e-mail ("invalid"), or it is disabled.
    """
    email = (email or "").strip().lower()
    row = con.execute(f"SELECT {_COLUMNS} FROM users WHERE oidc_email = ?", [email]).fetchone() if email else None
    now_utc = _utc_naive(now)
    if row is None:
        with transaction(con):
            audit.append(con, email[:_MAX_TYPED_NAME] or "unknown", "auth.fail", None, {"reason": "oidc_unlinked", "method": "oidc"})
        raise AuthError("invalid", "该单点登录账户未关联本系统用户，请联系管理员")
    user = _user(row)
    if user.disabled:
        limits.record_attempt(con, user.username, now_utc, False, "disabled", None, {"method": "oidc"})
        raise AuthError("disabled", "该账户已停用，请联系管理员")
    limits.record_attempt(con, user.username, now_utc, True, "ok", None, {"role": user.role, "method": "oidc"})
    return user
