"""What several routers check alike: a security level given by number or name, the draft genre, and that nobody
classifies or grants above their own clearance."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException
from pydantic import BeforeValidator

from comply.config import Settings
from comply.levels import level_name, level_rank
from review.genre import AUTO, load_genres
from service.auth import Caller

Level = Annotated[int, BeforeValidator(level_rank)]  # 0–2, or 公开 / 内部 / 秘密 (public / internal / secret)


def check_genre(settings: Settings, genre: str) -> None:
    """422 listing the known genres when ``genre`` is neither ``auto`` nor one of them."""
    known = load_genres(settings.genres_file)
    if genre != AUTO and genre not in known:
        raise HTTPException(status_code=422, detail=f"未知的体裁“{genre}”，可选：{AUTO}、{'、'.join(known)}")


def not_above(caller: Caller, level: int | None, verb: str) -> None:
    """403 when ``level`` is above the caller's clearance: nobody ``verb``s (设定, 授予) a level above their own."""
    if level is not None and level > caller.clearance():
        raise HTTPException(status_code=403,
                            detail=f"不能{verb}高于本人密级（{level_name(caller.clearance())}）的密级：{level_name(level)}")
