"""Help-centre exports as JSON: Zendesk Guide, Freshdesk, ServiceNow knowledge, Help Scout Docs and the like.

Shapes accepted: a list of records, or an object holding the list under `articles`, `results`, `result`,
`items`, `data` or `solutions`. A record needs a title and an HTML body under one of the names those products
use; its own id (`id`, `number`, `article_id`, `sys_id`) becomes the article id and `html_url` (`url`,
`public_url`, `link`) its link. Each record is one article, read by the HTML reader.
"""

from __future__ import annotations

import json
from typing import Any

from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.html import parse_html

FORMAT = "json"
_LIST_KEYS = ("articles", "results", "result", "items", "data", "solutions", "records")
_ID_KEYS = ("id", "number", "article_id", "articleId", "sys_id", "uid")
_TITLE_KEYS = ("title", "name", "short_description", "subject")
_BODY_KEYS = ("body", "description", "text", "content", "html", "article_body", "body_html")
_URL_KEYS = ("html_url", "url", "public_url", "publicUrl", "link", "permalink")
_PRODUCT_KEYS = ("product", "category", "kb_category", "section", "collection")
_KEYWORD_KEYS = ("label_names", "tags", "keywords", "meta_keywords")


def looks_like_export(text: str) -> bool:
    head = text.lstrip("\ufeff \t\r\n")[:1]
    return head in ("{", "[")


def _records(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                return [r for r in data[key] if isinstance(r, dict)]
        return [data] if any(k in data for k in _TITLE_KEYS) else []
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    return []


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, dict):  # ServiceNow reference fields: {"display_value": ..., "value": ...}
            value = value.get("display_value") or value.get("value") or value.get("name")
        if value not in (None, "", []):
            return str(value).strip()
    return ""


def _keywords(record: dict[str, Any]) -> str:
    for key in _KEYWORD_KEYS:
        value = record.get(key)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value if v)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def parse_export(text: str, *, source: str = "", path: str = "", url_template: str | None = None) -> list[Draft]:
    """Every record of an export -> a Draft each (records without a title and body are skipped)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not a JSON export ({exc.msg})") from exc
    drafts: list[Draft] = []
    for n, record in enumerate(_records(data), start=1):
        title = _first(record, _TITLE_KEYS)
        body = _first(record, _BODY_KEYS)
        if not title or not body:
            continue
        record_id = _first(record, _ID_KEYS) or str(n)
        front = {
            "id": record_id,
            "title": title,
            "url": _first(record, _URL_KEYS),
            "product": _first(record, _PRODUCT_KEYS),
            "keywords": _keywords(record),
        }
        draft = parse_html(body, source=f"{source}#{record_id}", path=f"{path}/{record_id}", front=front,
                           url_template=url_template)
        draft.format = FORMAT
        drafts.append(draft)
    if not drafts:
        raise ParseError("JSON without article records (each needs a title and a body)")
    return drafts
