"""The editors' web app: HTML pages and the JSON API behind them, over one archive.

FastAPI (on Starlette, served by uvicorn) because it documents the JSON API as OpenAPI
(``/api/openapi.json``) from the same functions. Swagger's page is off: it loads scripts
from a CDN, and this app serves no script at all.

Security, since every title, text, URL and header in the archive is attacker-controlled:
Jinja2 autoescapes every template and no crawled value is marked safe; only http(s) URLs
become links; every response carries a Content-Security-Policy with ``script-src 'none'``
and our one stylesheet by hash; SQL is parameterised (in the libraries); a request
parameter is only ever a lookup key (URL, article id, timestamp), never a path; raw
captures are downloads (``Content-Disposition: attachment``, ``nosniff``, a sandbox CSP).
With a token configured, every request must carry it (``Authorization: Bearer``, or the
cookie set by visiting once with ``?token=``).
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from crawler.dedup.clusters import KINDS, Cluster, Filters, Member, build_clusters, cluster_of, member_of
from crawler.dedup.store import ArticleStore
from crawler.report.build import make_filters
from crawler.report.charts import all_charts
from crawler.report.links import replay_href, safe_href
from crawler.report.render import CSP, ENV, ClusterView, Report, cluster_json, member_json
from crawler.report.texts import TextIndex, query_terms
from crawler.web.status import crawl_status

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
SEARCH_PAGE = 50
TOKEN_COOKIE = "newsarchive_token"
#: Built reports kept per filter set; a new catalog (mtime) invalidates them.
REPORT_CACHE = 8


@dataclass
class AppConfig:
    archive: Any  # crawler.archive.archive.Archive
    catalog_path: Path
    texts: TextIndex
    archive_label: str = ""
    token: str | None = None
    replay_base: str | None = None
    #: Seconds between two looks for WARC files a running crawl added (a LIST of the store).
    refresh_every: float = 60.0


SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def create_app(cfg: AppConfig) -> FastAPI:
    app = FastAPI(
        title="newsarchive",
        summary="Search the archive, its captures and its duplicate clusters.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    cache: dict[tuple, tuple[float, list[Cluster]]] = {}
    lock = threading.Lock()
    refreshing = threading.Lock()
    last_refresh = [time.monotonic()]

    def refresh() -> None:
        """Catch up with a crawl that runs beside the app: new WARCs into the capture catalog
        and the text index, at most once every ``refresh_every`` seconds, one thread at a time."""
        if time.monotonic() - last_refresh[0] < cfg.refresh_every or not refreshing.acquire(blocking=False):
            return
        try:
            cfg.archive.sync_catalog()
            cfg.texts.sync(cfg.archive, cfg.texts.pending(cfg.archive.warc_names()))
        except Exception:  # the archive's store unreachable: serve what is known, say why in the log
            logger.warning("Could not catch up with %(uri)s", {"uri": cfg.archive_label}, exc_info=True)
        finally:
            last_refresh[0] = time.monotonic()
            refreshing.release()

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable) -> Response:
        if cfg.token:
            given = request.query_params.get("token")
            if request.method == "GET" and _same(given, cfg.token):
                params = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = request.url.path + ("?" + urlencode(params) if params else "")
                resp: Response = RedirectResponse(target, status_code=303)
                resp.set_cookie(TOKEN_COOKIE, cfg.token, httponly=True, samesite="strict")
            elif not _authorised(request, cfg.token):
                resp = JSONResponse(
                    {"detail": "an access token is required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
            else:
                await run_in_threadpool(refresh)
                resp = await call_next(request)
        else:
            await run_in_threadpool(refresh)
            resp = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    def store() -> ArticleStore:
        if not cfg.catalog_path.is_file():
            raise HTTPException(404, "no dedup catalog yet: crawl with dedup on, or run `newsarchive dedup rebuild`")
        return ArticleStore(cfg.catalog_path)

    def clusters_for(f: Filters) -> list[Cluster]:
        mtime = _changed(cfg.catalog_path)
        key = (f.since, f.until, f.sources, f.langs, f.kinds)
        with lock:
            hit = cache.get(key)
            if hit and hit[0] == mtime:
                return hit[1]
        with store() as s:
            cs = build_clusters(s, f)
        with lock:
            if len(cache) >= REPORT_CACHE:
                cache.pop(next(iter(cache)))
            cache[key] = (mtime, cs)
        return cs

    def filters_from(
        since: str | None, until: str | None, source: list[str], lang: list[str], kind: list[str]
    ) -> Filters:
        try:
            return make_filters(since, until, source, lang, [k for k in kind if k])
        except Exception as e:  # ConfigError: a bad date or kind from the form
            raise HTTPException(400, str(e)) from None

    def page(name: str, **ctx: Any) -> HTMLResponse:
        html = ENV.get_template(name).render(
            archive=cfg.archive_label,
            replay_base=cfg.replay_base,
            article_href=article_href,
            captures_href=captures_href,
            safe_href=safe_href,
            **ctx,
        )
        return HTMLResponse(html)

    def view(c: Cluster, texts: dict[str, str]) -> ClusterView:
        return ClusterView(c, texts, cfg.replay_base, archived_href=lambda m: captures_href(m.url))

    # --- pages ---------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        q: str = "", prefix: str = "", page_no: Annotated[int, Query(alias="page", ge=1)] = 1
    ) -> HTMLResponse:
        hits, total = (
            cfg.texts.search(q, prefix, SEARCH_PAGE, (page_no - 1) * SEARCH_PAGE) if (q or prefix) else ([], 0)
        )
        return page(
            "search.html",
            q=q,
            prefix=prefix,
            hits=hits,
            total=total,
            page_no=page_no,
            terms=query_terms(q),
            pages=_pages(total, SEARCH_PAGE),
            qs=lambda n: "?" + urlencode({"q": q, "prefix": prefix, "page": n}),
        )

    @app.get("/captures", response_class=HTMLResponse, include_in_schema=False)
    def captures_page(url: str) -> HTMLResponse:
        return page("captures.html", url=url, captures=_captures(cfg, url))

    @app.get("/article", response_class=HTMLResponse, include_in_schema=False)
    def article_page(url: str) -> HTMLResponse:
        art, cluster = _article(store, url)
        texts = cfg.texts.texts_of([m.url for m in cluster.members]) if cluster else {}
        text = cfg.texts.text_of(url) or ""
        return page(
            "article.html",
            art=art,
            cluster=view(cluster, texts) if cluster else None,
            text=text,
            captures=_captures(cfg, url),
        )

    @app.get("/report", response_class=HTMLResponse, include_in_schema=False)
    def report_page(
        since: str | None = None,
        until: str | None = None,
        source: Annotated[list[str] | None, Query()] = None,
        lang: Annotated[list[str] | None, Query()] = None,
        kind: Annotated[list[str] | None, Query()] = None,
        page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
    ) -> HTMLResponse:
        source, lang, kind = source or [], lang or [], kind or []
        f = filters_from(since, until, source, lang, kind)
        cs = clusters_for(f)
        shown = cs[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
        texts = cfg.texts.texts_of([m.url for c in shown for m in c.members])
        rep = Report(clusters=cs, filters=f, archive=cfg.archive_label)
        params = {"since": since or "", "until": until or "", "source": source, "lang": lang, "kind": kind}
        return page(
            "report_page.html",
            meta=rep.metadata(),
            totals=rep.totals(),
            charts=all_charts(cs),
            clusters=[view(c, texts) for c in shown],
            page_no=page_no,
            pages=_pages(len(cs), PAGE_SIZE),
            form=params,
            kinds=KINDS,
            sources=_all_sources(cfg.texts),
            qs=lambda n: "?" + urlencode({**params, "page": n}, doseq=True),
        )

    @app.get("/status", response_class=HTMLResponse, include_in_schema=False)
    def status_page() -> HTMLResponse:
        return page("status.html", status=crawl_status(cfg.archive, cfg.catalog_path, cfg.texts))

    @app.get("/raw", include_in_schema=True, summary="The archived payload of a capture, as a download")
    def raw(url: str, at: str | None = None) -> Response:
        from crawler.archive.retrieve import DecodeError, NotArchived, get_capture, parse_at

        try:
            capture = get_capture(cfg.archive, url, parse_at(at) if at else None)
            body = capture.decoded()
        except NotArchived as e:
            raise HTTPException(404, str(e)) from None
        except (DecodeError, ValueError) as e:
            raise HTTPException(400, str(e)) from None
        ctype = _header_value(capture.header("Content-Type")) or "application/octet-stream"
        name = f"capture-{capture.entry.timestamp}.{_extension(ctype)}"
        return Response(
            body,
            media_type=None,
            headers={
                "Content-Type": ctype,
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Security-Policy": "sandbox; default-src 'none'",
            },
        )

    # --- JSON API ------------------------------------------------------------------------------
    @app.get("/api/search", summary="Articles by words in title/text (Chinese or English) and URL prefix")
    def api_search(
        q: str = "",
        prefix: str = "",
        limit: Annotated[int, Query(ge=1, le=500)] = SEARCH_PAGE,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        hits, total = cfg.texts.search(q, prefix, limit, offset)
        return {"total": total, "hits": [h.__dict__ for h in hits]}

    @app.get("/api/captures", summary="Every capture of a URL")
    def api_captures(url: str) -> dict[str, Any]:
        return {"url": url, "captures": _captures(cfg, url)}

    @app.get("/api/article", summary="An archived article and its cluster")
    def api_article(url: str) -> dict[str, Any]:
        art, cluster = _article(store, url)
        return {"article": member_json(art), "cluster": cluster_json(cluster) if cluster else None}

    @app.get("/api/report", summary="Duplicate clusters, newest first, with the report's filters; paged")
    def api_report(
        since: str | None = None,
        until: str | None = None,
        source: Annotated[list[str] | None, Query()] = None,
        lang: Annotated[list[str] | None, Query()] = None,
        kind: Annotated[list[str] | None, Query()] = None,
        page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
        size: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    ) -> dict[str, Any]:
        f = filters_from(since, until, source or [], lang or [], kind or [])
        cs = clusters_for(f)
        rep = Report(clusters=cs, filters=f, archive=cfg.archive_label)
        return {
            "report": rep.metadata(),
            "page": page_no,
            "size": size,
            "clusters": [cluster_json(c) for c in cs[(page_no - 1) * size : page_no * size]],
        }

    @app.get("/api/status", summary="Crawl status per source and per host")
    def api_status() -> dict[str, Any]:
        return crawl_status(cfg.archive, cfg.catalog_path, cfg.texts)

    def article_href(m: Member) -> str:
        return "/article?" + urlencode({"url": m.url})

    def captures_href(url: str) -> str:
        return "/captures?" + urlencode({"url": url})

    return app


def _changed(path: Path) -> float:
    """When the catalog last changed: SQLite in WAL mode writes to ``-wal`` until a checkpoint."""
    stamps = [p.stat().st_mtime_ns for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return float(max(stamps, default=0))


def _same(given: str | None, token: str) -> bool:
    """Constant-time comparison; as bytes, since ``compare_digest`` refuses non-ASCII str (a 500, not a 401)."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def _authorised(request: Request, token: str) -> bool:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and _same(auth[7:].strip(), token):
        return True
    return _same(request.cookies.get(TOKEN_COOKIE), token)


def _pages(total: int, size: int) -> int:
    return max(1, (total + size - 1) // size)


def _article(store: Callable[[], ArticleStore], url: str) -> tuple[Member, Cluster | None]:
    with store() as s:
        art = s.by_url(url)
        if art is None:
            raise HTTPException(404, "no archived article at this URL")
        cluster = cluster_of(s, art.id)
    if cluster is not None:
        member = next(m for m in cluster.members if m.id == art.id)
        return member, cluster
    with store() as s:
        alone = member_of(s, art.id)
    if alone is None:  # deleted between the two reads
        raise HTTPException(404, "no archived article at this URL")
    alone.role = "original"
    return alone, None


def _all_sources(texts: TextIndex) -> list[str]:
    """The sources to choose from in the report's form (from the text index: no JSON to parse)."""
    return sorted({source for source, _url, _captured in texts.articles_by_source() if source})[:500]


def _captures(cfg: AppConfig, url: str) -> list[dict[str, Any]]:
    from crawler.archive.retrieve import list_captures

    out = []
    for e in list_captures(cfg.archive, url):
        out.append(
            {
                "timestamp": e.timestamp,
                "status": e.status,
                "mime": e.mime,
                "length": e.length,
                "type": e.rec_type,
                "url": e.url,
                "replay": replay_href(cfg.replay_base, e.url, _ts_iso(e.timestamp)),
                "raw": "/raw?" + urlencode({"url": e.url, "at": e.timestamp}),
            }
        )
    return out


def _ts_iso(ts: str) -> str | None:
    if not re.fullmatch(r"\d{14}", ts or ""):
        return None
    return f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}+00:00"


def _header_value(value: str | None) -> str | None:
    """An archived header value fit to send again: one line, printable ASCII."""
    if not value:
        return None
    v = value.strip()
    return v if re.fullmatch(r"[\x20-\x7e]{1,200}", v) else None


_EXTENSIONS = {
    "text/html": "html",
    "text/plain": "txt",
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "application/rss+xml": "xml",
    "application/atom+xml": "xml",
    "text/css": "css",
}


def _extension(ctype: str) -> str:
    return _EXTENSIONS.get(ctype.split(";")[0].strip().lower(), "bin")


__all__ = ["AppConfig", "create_app"]
