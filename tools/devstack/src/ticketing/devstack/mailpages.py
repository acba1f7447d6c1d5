"""The gateway's ``/dev/mail`` (JSON) and ``/dev/mail.html`` (a page to read them): the emails
the mail catcher kept, newest first, ``?to=ADDRESS`` to see one person's. ``make dev`` only.

Each email's HTML part is shown in a sandboxed ``iframe`` (no scripts, its own origin), so an
email cannot touch the page, nor the page style the email.
"""

from __future__ import annotations

import asyncio
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from ticketing.devstack.mailcatcher import MailStore, Message

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f5;color:#18181b}
header{background:#18181b;color:#fff;padding:16px 24px}
header h1{font-size:18px;margin:0 0 8px}
header form{display:flex;gap:8px}
header input{flex:1;max-width:360px;padding:6px}
main{padding:16px 24px;display:grid;gap:16px}
article{background:#fff;border-radius:8px;padding:16px;box-shadow:0 1px 2px #0002}
article h2{font-size:16px;margin:0 0 4px}
.meta{color:#52525b;font-size:13px;margin:0 0 12px}
iframe{width:100%;height:360px;border:1px solid #e4e4e7;border-radius:4px;background:#fff}
pre{white-space:pre-wrap;background:#fafafa;padding:8px;border-radius:4px}
.empty{color:#52525b}
"""


def mail_routes(store: MailStore) -> list[Route]:
    async def as_json(request: Request) -> JSONResponse:
        messages = await asyncio.to_thread(store.messages, request.query_params.get("to"))
        return JSONResponse({"messages": messages})

    async def as_page(request: Request) -> HTMLResponse:
        to = request.query_params.get("to")
        messages = await asyncio.to_thread(store.messages, to)
        return HTMLResponse(render_page(messages, to))

    return [
        Route("/dev/mail", as_json, methods=["GET"]),
        Route("/dev/mail.html", as_page, methods=["GET"]),
    ]


def render_page(messages: list[Message], to: str | None) -> str:
    heading = f"{len(messages)} email{'s' if len(messages) != 1 else ''} caught by make dev"
    if to:
        heading += f" for {to}"
    articles = "\n".join(_article(message) for message in messages)
    if not messages:
        articles = '<p class="empty">No email yet: sign up, buy a ticket, and look again.</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mail · Ticketing (dev)</title>
<style>{STYLE}</style></head>
<body><header><h1>{escape(heading)}</h1>
<form method="get" action="/dev/mail.html"><input name="to" value="{escape(to or "")}"
 placeholder="only to this address"><button>Filter</button> <a style="color:#fff"
 href="/dev/mail.html">all</a> <a style="color:#fff" href="/dev/mail{_query(to)}">JSON</a>
</form></header>
<main>{articles}</main></body></html>"""


def _article(message: Message) -> str:
    meta = f"To {', '.join(message['to'])} · from {message['from']} · {message['receivedAt']}"
    html = message.get("html")
    frame = (
        f'<iframe sandbox title="HTML part" srcdoc="{escape(html, quote=True)}"></iframe>'
        if html
        else ""
    )
    text = escape(message.get("text") or "")
    return f"""<article><h2>{escape(message["subject"])}</h2>
<p class="meta">{escape(meta)}</p>{frame}
<details{"" if html else " open"}><summary>Plain text</summary><pre>{text}</pre></details>
</article>"""


def _query(to: str | None) -> str:
    return f"?{urlencode({'to': to})}" if to else ""
