"""Chinese numerals as used in article numbers (第一百三十五条) and back."""

from __future__ import annotations

_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL_CHARS = "〇零一二三四五六七八九十百千两"
NUMERAL = rf"[{CN_NUMERAL_CHARS}\d]+"  # a regex for the number of 第…编/章/节/条/款/项: Chinese numerals or digits
ITEM_NUMERAL = "[一二三四五六七八九十]+"  # a regex for the small numerals of enumerations: （一）, 一、


def cn_to_int(text: str) -> int:
    """Convert a Chinese (or Arabic) numeral such as 一百三十五 / 135 to an int.

    Raises:
        ValueError: if the text is not a numeral.
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if len(text) > 1 and not any(ch in _UNITS for ch in text):
        # Positional digits (二〇二四): read digit by digit instead of keeping only the last one.
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
    return total + (digit or 0)


def int_to_cn(value: int) -> str:
    """Convert 1..9999 to the form used in statute headings (十 / 十一 / 一百零一 / 二百一十)."""
    if not 0 < value < 10000:
        raise ValueError(f"out of range: {value}")
    digits = "零一二三四五六七八九"
    parts, zero = [], False
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = value // unit_value % 10
        if d == 0:
            zero = bool(parts)
            continue
        if zero:
            parts.append("零")
            zero = False
        parts.append(digits[d] + unit)
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text
