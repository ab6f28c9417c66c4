"""Chinese in place of the English that Streamlit's own widgets draw (it has no language setting).

Texts a widget takes as a parameter (``placeholder=``) are set by the pages; the rest — the file uploader's button
and size line, a multiselect's 全选 / 选择全部匹配项 items and the empty-list note — are replaced by one style sheet,
injected on every run by :func:`inject`: the English text is hidden (``visibility: hidden``, so it is neither
painted nor part of the page's visible text) and the Chinese drawn in its place (``::after``). The selectors are the
``data-testid`` and ``data-key`` attributes of Streamlit 1.67's widgets.
"""

from __future__ import annotations

import streamlit as st

UPLOAD_BUTTON = "选择文件"
SELECT_ALL = "全选"
SELECT_MATCHES = "选择全部匹配项"
NO_MATCH = "没有匹配的选项"
CHOOSE = "请选择"  # a multiselect's or selectbox's placeholder
NO_OPTIONS = "没有可选项"

# (selector of the element holding the English text, its Chinese)
_UPLOADER = '[data-testid="stFileUploaderDropzone"]'
_SWAPS: tuple[tuple[str, str], ...] = (
    (f'{_UPLOADER} button[data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"] p', UPLOAD_BUTTON),
    ('[role="option"][data-key="__select_all__"] [data-item-hl]', SELECT_ALL),
    ('[role="option"][data-key="__select_matches__"] [data-item-hl]', SELECT_MATCHES),
    ('[role="listbox"][data-empty="true"] > [role="option"] > span', NO_MATCH),
)


def placeholder(options: object) -> str:
    """A multiselect's or selectbox's placeholder: 请选择, or 没有可选项 when there is nothing to choose."""
    return CHOOSE if options else NO_OPTIONS


def upload_limit_text(max_mb: int) -> str:
    """The uploader's size line: 拖放文件到这里或点击选择文件，单个文件不超过 50 MB."""
    return f"拖放文件到这里或点击{UPLOAD_BUTTON}，单个文件不超过 {max_mb} MB"


def _swap(selector: str, text: str) -> str:
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return (f"{selector}{{visibility:hidden;font-size:0;line-height:0}}"
            f'{selector}::after{{content:"{quoted}";visibility:visible;font-size:0.875rem;line-height:1.6}}')


def style_sheet(max_upload_mb: int) -> str:
    """The ``<style>`` element replacing every English widget text named above (the upload limit in the size line)."""
    swaps = [*_SWAPS, ('[data-testid="stFileUploaderDropzoneInstructions"] span', upload_limit_text(max_upload_mb))]
    return "<style>" + "".join(_swap(selector, text) for selector, text in swaps) + "</style>"


def inject() -> None:
    """Add the style sheet to this run's page (a ``<style>``-only ``st.html`` takes no room in the layout)."""
    st.html(style_sheet(int(st.get_option("server.maxUploadSize"))))
