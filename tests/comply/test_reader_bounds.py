"""Files that expand past the limits (a DOCX zip bomb, too many pages, paragraphs or lines, a PDF flate bomb) are
refused with a clear Chinese ReadError, quickly and in little memory, before the reader expands them."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import docx
import pytest
from support import PROJECT, factories

from comply.config import load_settings
from comply.files.errors import ReadError
from comply.files.readers import read_file
from kb_ingest.documents import parse_document

# Reads the bomb in a fresh process with at most 2 GiB of address space, and reports what it cost.
_MEASURE = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
from pathlib import Path
from comply.config import load_settings
from comply.files.errors import ReadError
from kb_ingest.documents import parse_document
start = time.monotonic()
try:
    parse_document(Path(sys.argv[1]), load_settings())
    outcome = {"kind": None, "message": ""}
except ReadError as exc:
    outcome = {"kind": exc.kind, "message": exc.message}
outcome["seconds"] = time.monotonic() - start
# VmHWM: this process's own peak resident memory (ru_maxrss would count the forking parent's too)
outcome["peak_mb"] = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024
print(json.dumps(outcome, ensure_ascii=False))
"""


def test_docx_zip_bomb_is_refused_fast_and_in_little_memory(tmp_path: Path) -> None:
    bomb = factories.make_docx_bomb(tmp_path, expanded_mb=200)
    assert bomb.stat().st_size < 2**20  # 200 MB of XML deflated to well under 1 MB
    run = subprocess.run([sys.executable, "-c", _MEASURE, str(bomb)], cwd=PROJECT, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    outcome = json.loads(run.stdout)
    assert outcome["kind"] == "oversize"
    assert outcome["message"].startswith(bomb.name + "：") and "解压后的内容超过上限 100 MB" in outcome["message"]
    assert outcome["seconds"] < 5
    assert outcome["peak_mb"] < 400


def test_docx_whose_header_lies_about_its_size_is_still_refused(tmp_path: Path) -> None:
    bomb = factories.make_docx_bomb(tmp_path, expanded_mb=200, declared_bytes=60 * 2**20)  # claims 60 MB, holds 200
    with pytest.raises(ReadError) as info:
        read_file(bomb, 2**20)
    # Counted while inflating: the paragraphs run over the limit long before the (lying) declared end.
    assert info.value.kind == "oversize" and "段落数超过上限 50000 段" in info.value.message


def test_docx_with_more_paragraphs_than_allowed_is_refused(tmp_path: Path) -> None:
    document = docx.Document()
    for n in range(300):
        document.add_paragraph(f"第{n}段：证券公司应当建立健全内部控制制度。")
    path = tmp_path / "长文档.docx"
    document.save(str(path))
    with pytest.raises(ReadError) as info:
        parse_document(path, load_settings(max_paragraphs=200))
    assert info.value.kind == "oversize" and info.value.message == "长文档.docx：段落数超过上限 200 段，已拒绝读取，请拆分后重试"
    assert parse_document(path, load_settings(max_paragraphs=400)).chunks  # within the limit it reads as before


def test_txt_with_more_lines_than_allowed_is_refused(tmp_path: Path) -> None:
    from comply.files.limits import ReadLimits

    path = tmp_path / "通讯录.txt"
    path.write_text("\n".join(f"第{n}行" for n in range(500)), encoding="utf-8")
    with pytest.raises(ReadError) as info:
        read_file(path, 2**20, ReadLimits(paragraphs=499))
    assert info.value.kind == "oversize" and "段落数超过上限 499 段" in info.value.message
    assert read_file(path, 2**20, ReadLimits(paragraphs=500))


def test_pdf_with_more_pages_than_allowed_is_refused(tmp_path: Path) -> None:
    path = factories.make_text_pdf(tmp_path, articles=12)  # three pages
    with pytest.raises(ReadError) as info:
        parse_document(path, load_settings(max_pdf_pages=2))
    assert info.value.kind == "oversize" and info.value.message == f"{path.name}：PDF 共 3 页，超过上限 2 页，请拆分后重试"


def test_pdf_whose_content_inflates_past_the_limit_is_refused(tmp_path: Path) -> None:
    from comply.files.limits import ReadLimits

    content = b"BT /F1 12 Tf 60 700 Td (a) Tj ET\n" * 200_000  # 6.4 MB of drawing operators, deflated to a few KB
    path = factories.make_image_xobject_pdf(tmp_path, zlib.compress(bytes(64 * 64)), 64, 64, "FlateDecode", "膨胀.pdf")
    data = path.read_bytes()
    packed = zlib.compress(content, 9)
    data = data.replace(b"<< /Length 35 >>\nstream\nq 400 0 0 300 50 400 cm /Im0 Do Q\nendstream",
                        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream")
    path.write_bytes(data)  # the xref offsets are now off: pypdf rebuilds them, as it does for many real files
    with pytest.raises(ReadError) as info:
        read_file(path, 2**20, ReadLimits(expanded_bytes=2**20))
    assert info.value.kind == "oversize" and "解压后的内容超过上限 1 MB" in info.value.message
