"""HTTP download handler that keeps the status line's reason phrase, which Scrapy drops.

A WARC response record holds the real status line ("HTTP/1.1 418 I'm a Teapot Custom").
Scrapy's handler builds its Response without Twisted's ``phrase``; this subclass stores
it in ``request.meta['status_reason']`` when the headers arrive. It leans on Scrapy's
private ``_ScrapyAgent``; if that ever moves, we fall back to the standard phrase.
"""

from __future__ import annotations

import logging

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Request, Response

logger = logging.getLogger(__name__)

REASON_META_KEY = "status_reason"

try:
    from scrapy.core.downloader.handlers import http11 as _http11
    from scrapy.utils.defer import maybe_deferred_to_future

    _Agent = _http11._ScrapyAgent

    class _ReasonPhraseAgent(_Agent):  # type: ignore[misc, valid-type]
        def _cb_bodyready(self, txresponse, request: Request):
            phrase = getattr(txresponse, "phrase", b"")
            request.meta[REASON_META_KEY] = phrase.decode("latin-1") if isinstance(phrase, bytes) else str(phrase)
            return super()._cb_bodyready(txresponse, request)

except (ImportError, AttributeError):  # pragma: no cover - Scrapy moved its internals
    _ReasonPhraseAgent = None


class ReasonPhraseHTTPDownloadHandler(HTTP11DownloadHandler):
    async def download_request(self, request: Request) -> Response:
        if _ReasonPhraseAgent is None:  # pragma: no cover
            return await super().download_request(request)
        agent = _ReasonPhraseAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with _http11.wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except _http11.ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(_http11.get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
