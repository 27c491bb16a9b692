"""Showing text that may contain what a user typed."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Escape markdown (and Streamlit's $-LaTeX) so user text shows literally, never as markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
