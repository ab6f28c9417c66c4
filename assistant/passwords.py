"""Password policy: at least 12 characters, not a common password, not the username, not a trivial pattern."""

from __future__ import annotations

import functools
import string
from importlib import resources

MIN_PASSWORD_LENGTH = 12
_MIN_NAME_IN_PASSWORD = 3  # shorter usernames ("li") would refuse too many good passwords
_MIN_TRIVIAL_CORE = 6  # a core this long that is a sequence or a repetition makes the password trivial
_SEQUENCES = ("0123456789" * 3, string.ascii_lowercase * 2, "qwertyuiopasdfghjklzxcvbnm")
_EDGE = string.digits + string.punctuation + " "


@functools.cache
def common_passwords() -> frozenset[str]:
    """The refused common passwords (``assistant/common_passwords.txt``, lower case)."""
    text = resources.files("assistant").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _core(lowered: str) -> str:
    """The password without leading and trailing digits, symbols and spaces (``welcome@2024!`` → ``welcome``)."""
    return lowered.strip(_EDGE)


def _trivial(text: str) -> bool:
    """One character repeated, a repeated chunk (``abcabc``), or a run of a sequence (``34567``, ``zyx``, ``qwerty``)."""
    if len(set(text)) <= 1:
        return True
    if any(len(text) % size == 0 and text == text[:size] * (len(text) // size) for size in range(1, len(text) // 2 + 1)):
        return True
    return any(text in seq or text in seq[::-1] for seq in _SEQUENCES)


def check_password(password: object, username: str = "") -> str:
    """The password if it is acceptable.

    Raises:
        ValueError: shorter than :data:`MIN_PASSWORD_LENGTH`, a common password (also with digits or symbols
            around it), containing the username, or a trivial pattern (messages in Chinese).
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符")
    lowered = password.lower()
    core = _core(lowered)
    if lowered in common_passwords() or core in common_passwords():
        raise ValueError("密码过于常见（在常用密码表中），请换一个")
    if len(username) >= _MIN_NAME_IN_PASSWORD and username.lower() in lowered:
        raise ValueError("密码不能包含用户名")
    if _trivial(lowered) or (len(core) >= _MIN_TRIVIAL_CORE and _trivial(core)):
        raise ValueError("密码不能是同一字符重复、重复片段或连续序列（如 aaaa、abcabc、123456、qwerty）")
    return password
