"""The violation taxonomy for draft review (shared/eval/taxonomy.json) as typed, validated objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Category:
    """One violation category: its id, Chinese name and description, and the citations it may rest on."""

    id: str
    name_zh: str
    description_zh: str
    legal_basis: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    """The ordered set of categories a finding may carry."""

    categories: tuple[Category, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """Category ids in file order."""
        return tuple(c.id for c in self.categories)

    def get(self, category_id: str) -> Category:
        """The category with this id.

        Raises:
            KeyError: when the id is not in the taxonomy.
        """
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(f"分类表中没有类别“{category_id}”")

    def citations(self) -> frozenset[str]:
        """Every legal-basis citation named by any category."""
        return frozenset(c for category in self.categories for c in category.legal_basis)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file in the format of shared/eval/taxonomy.json.

    Raises:
        ValueError: on a missing field, a malformed or duplicate id, or an empty legal basis.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"无法读取分类表 {path}：{exc}") from exc
    items = raw.get("categories") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"分类表 {path} 缺少 categories 列表")
    categories: list[Category] = []
    for n, item in enumerate(items, start=1):
        missing = [k for k in ("id", "name_zh", "description_zh", "legal_basis") if not item.get(k)]
        if missing:
            raise ValueError(f"分类表 {path} 第 {n} 个类别缺少字段：{', '.join(missing)}")
        if not _ID.match(item["id"]):
            raise ValueError(f"分类表 {path} 的类别 id “{item['id']}” 不是小写 snake_case")
        if any(c.id == item["id"] for c in categories):
            raise ValueError(f"分类表 {path} 的类别 id “{item['id']}” 重复")
        basis = item["legal_basis"]
        if not isinstance(basis, list) or not all(isinstance(b, str) and b for b in basis):
            raise ValueError(f"分类表 {path} 的类别“{item['id']}”的 legal_basis 必须是非空字符串列表")
        categories.append(Category(item["id"], item["name_zh"], item["description_zh"], tuple(basis)))
    return Taxonomy(tuple(categories))
