"""Security levels (密级): an ordered scale; a caller sees only what is at or below their clearance."""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("公开", "内部", "秘密")
_ALIASES = {"public": "公开", "internal": "内部", "secret": "秘密", "confidential": "秘密"}


def level_rank(name: str) -> int:
    """Return the rank of a level given by its Chinese name, English alias or number.

    Raises:
        ValueError: if the level is unknown.
    """
    key = str(name).strip()
    key = _ALIASES.get(key.lower(), key)
    if key.isdigit() and int(key) < len(LEVELS):
        return int(key)
    if key not in LEVELS:
        raise ValueError(f"未知密级 {name!r}，可选：{' / '.join(LEVELS)}")
    return LEVELS.index(key)


def level_name(rank: int) -> str:
    """Return the Chinese name of a level rank."""
    return LEVELS[rank]
