"""An uploaded draft that expands past the limits (a DOCX zip bomb, a scanned PDF whose image is too large) is refused
with a clear Chinese DraftError, quickly and in little memory: sizes are checked before anything is decoded."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image
from support import PROJECT, factories

from review import ocr
from review.draft import DraftError
from review.inputs import read_draft

# Reads the upload in a fresh process with at most 2 GiB of address space, and reports what it cost.
_MEASURE = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
from pathlib import Path
from review.draft import DraftError
from review.inputs import read_draft
path = Path(sys.argv[1])
start = time.monotonic()
try:
    read_draft(path.name, path.read_bytes())
    outcome = {"kind": None, "message": ""}
except DraftError as exc:
    outcome = {"kind": exc.kind, "message": str(exc)}
outcome["seconds"] = time.monotonic() - start
# VmHWM: this process's own peak resident memory (ru_maxrss would count the forking parent's too)
outcome["peak_mb"] = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024
print(json.dumps(outcome, ensure_ascii=False))
"""


def _measure(path: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], cwd=PROJECT, capture_output=True, text=True, timeout=90,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def test_docx_zip_bomb_upload_is_refused_fast_and_in_little_memory(tmp_path: Path) -> None:
    bomb = factories.make_docx_bomb(tmp_path, "海报文案.docx", expanded_mb=200)
    outcome = _measure(bomb)
    assert outcome["kind"] == "too_large" and outcome["message"].startswith("海报文案.docx：解压后的内容超过上限")
    assert outcome["seconds"] < 5 and outcome["peak_mb"] < 400


def test_scanned_pdf_with_an_oversized_image_is_refused_before_decoding(tmp_path: Path) -> None:
    side = 7_000  # 49 million pixels, over the 40 million cap; 49 MB raw, deflated to some 50 KB
    path = factories.make_image_xobject_pdf(tmp_path, zlib.compress(bytes(side * side), 9), side, side, "FlateDecode", "巨幅扫描件.pdf")
    outcome = _measure(path)
    assert outcome["kind"] == "too_large" and "图片尺寸过大（超过 40 百万像素）" in outcome["message"]
    assert outcome["seconds"] < 5 and outcome["peak_mb"] < 300


def test_embedded_jpeg_larger_than_its_pdf_dictionary_says_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "MAX_IMAGE_PIXELS", 10_000)
    jpeg = io.BytesIO()
    Image.new("L", (300, 200), "white").save(jpeg, format="JPEG")  # 60,000 pixels in the JPEG's own header
    path = factories.make_image_xobject_pdf(tmp_path, jpeg.getvalue(), 50, 50, "DCTDecode", "小图大样.pdf")  # declares 2,500
    with pytest.raises(DraftError) as info:
        read_draft(path.name, path.read_bytes())
    assert info.value.kind == "too_large" and str(info.value).startswith("小图大样.pdf：PDF 中的图片尺寸过大")
