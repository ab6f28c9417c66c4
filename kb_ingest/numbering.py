"""Article numbering checks: a legal text's 条 run 1, 2, 3 … with none skipped or repeated."""

from __future__ import annotations

from collections import Counter

from comply.lawtext.numerals import int_to_cn

# Beyond this many articles more than the file holds, a number is a typo or an attack, not a gap worth listing
_MAX_GAP = 1000


def _label(n: int) -> str:
    return f"第{int_to_cn(n)}条" if 1 <= n <= 9999 else f"第{n}条"


def _labels(numbers: list[int], limit: int = 10) -> str:
    shown = "、".join(_label(n) for n in numbers[:limit])
    return shown + (f" 等 {len(numbers)} 处" if len(numbers) > limit else "")


def numbering_problems(numbers: list[int]) -> str:
    """Why the article numbers (in file order) are not 1…N each once and in order; empty when they are."""
    if not numbers:
        return ""
    wild = sorted({n for n in numbers if n < 1 or n > len(numbers) + _MAX_GAP})
    if wild:
        return f"编号超出范围：{_labels(wild)}"
    counts = Counter(numbers)
    repeated = sorted(n for n, c in counts.items() if c > 1)
    missing = sorted(set(range(1, max(numbers) + 1)) - set(counts))
    out_of_order = [b for a, b in zip(numbers, numbers[1:]) if b < a and counts[b] == 1]
    problems = []
    if missing:
        problems.append(f"缺少{_labels(missing)}")
    if repeated:
        problems.append(f"重复出现{_labels(repeated)}")
    if out_of_order:
        problems.append(f"顺序颠倒：{_labels(out_of_order)}")
    return "；".join(problems)
