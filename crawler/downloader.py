"""HTTP download handler that keeps what Scrapy drops: the reason phrase and the raw heads.

A WARC response record holds the real status line ("HTTP/1.1 418 I'm a Teapot Custom") and
the headers as they crossed the wire. Scrapy's handler builds its Response without Twisted's
``phrase``, and Twisted's ``Headers`` re-spell every name (``ETag`` -> ``Etag``) and drop the
framing ones. This subclass stores the phrase in request meta (``REASON_META_KEY``) and the
request head as sent plus the response header lines as received under ``WIRE_META_KEY``
(a :class:`~crawler.archive.records.WireHead`; keys in crawler/meta.py).

The raw lines come from the parser, the way Scrapy itself swaps in its lenient parser
(``_LenientHTTP11ClientProtocol.request`` replaces the parser's class): ours records each header
line before Twisted parses it, and the request's header writer records the bytes it sends.
It leans on private parts of Scrapy (``_ScrapyAgent``, the lenient protocol and factory); if
they move, we fall back to the standard phrase and Scrapy's header names, and say so once, in a
warning, when the handler is built (WARCs would otherwise lose them quietly).
"""

from __future__ import annotations

import logging

import scrapy
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Request, Response

from crawler.archive.records import WireHead
from crawler.meta import REASON_META_KEY, WIRE_META_KEY

logger = logging.getLogger(__name__)

#: What the subclass uses of Scrapy's private handler internals (checked when the handler is built).
_HANDLER_ATTRIBUTES = ("_contextFactory", "_bind_address", "_pool", "_default_maxsize", "_default_warnsize",
                       "_fail_on_dataloss", "_crawler", "_tls_verbose_logging")
_warned = False
_WIRE_ATTR = "_newsarchive_wire"  # on Twisted's response, from the parser to the agent

try:
    from scrapy.core.downloader.handlers import http11 as _http11
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.web._newclient import HEADER

    _Agent = _http11._ScrapyAgent
    if not hasattr(_Agent, "_cb_bodyready"):
        raise AttributeError("_ScrapyAgent._cb_bodyready")

    class _ReasonPhraseAgent(_Agent):  # type: ignore[misc, valid-type]
        def _cb_bodyready(self, txresponse, request: Request):
            phrase = getattr(txresponse, "phrase", b"")
            request.meta[REASON_META_KEY] = phrase.decode("latin-1") if isinstance(phrase, bytes) else str(phrase)
            wire = getattr(txresponse, _WIRE_ATTR, None)
            if wire is not None:
                request.meta[WIRE_META_KEY] = wire
            return super()._cb_bodyready(txresponse, request)

    class _WireHeadParser(_http11._LenientHTTPClientParser):  # type: ignore[misc, valid-type]
        """Scrapy's lenient parser that also keeps each header line as received."""

        _wire_request: bytes | None = None
        _wire_lines: list[bytes]

        def connectionMade(self) -> None:  # also called again after a 1xx response
            super().connectionMade()
            self._wire_lines = []

        def lineReceived(self, line: bytes) -> None:
            if self.state == HEADER and line.removesuffix(b"\r"):
                self._wire_lines.append(line.removesuffix(b"\r"))
            super().lineReceived(line)

        def allHeadersReceived(self) -> None:
            if not 100 <= self.response.code < 200:
                setattr(self.response, _WIRE_ATTR, WireHead(self._wire_request, tuple(self._wire_lines)))
            super().allHeadersReceived()

    class _HeadRecorder:
        """Stands in for the transport while Twisted writes a request head: keeps the bytes."""

        def __init__(self, transport) -> None:
            self.transport = transport
            self.head = b""

        def writeSequence(self, data) -> None:  # noqa: N802 - Twisted's name
            self.head += b"".join(data)
            self.transport.writeSequence(data)

        def write(self, data: bytes) -> None:
            self.head += data
            self.transport.write(data)

    class _WireHeadProtocol(_http11._LenientHTTP11ClientProtocol):  # type: ignore[misc, valid-type]
        def request(self, request):
            recorder: _HeadRecorder | None = None
            write_headers = request._writeHeaders

            def record_headers(transport, te_or_cl) -> None:
                nonlocal recorder
                recorder = _HeadRecorder(transport)
                write_headers(recorder, te_or_cl)

            try:
                request._writeHeaders = record_headers
            except AttributeError:  # pragma: no cover - Twisted's Request took __slots__
                pass
            d = super().request(request)
            parser = self._parser
            if parser is not None and type(parser) is _http11._LenientHTTPClientParser:
                parser.__class__ = _WireHeadParser  # no state of its own but what is set here
                parser._wire_lines = []
                parser._wire_request = recorder.head if recorder is not None else None
            return d

    class _WireHeadClientFactory(_http11._LenientHTTP11ClientFactory):  # type: ignore[misc, valid-type]
        def buildProtocol(self, _addr):  # noqa: N802 - Twisted's name
            return _WireHeadProtocol(self._quiescentCallback)

except (ImportError, AttributeError):  # pragma: no cover - Scrapy moved its internals
    _ReasonPhraseAgent = None
    _WireHeadClientFactory = None


class ReasonPhraseHTTPDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        missing = [a for a in _HANDLER_ATTRIBUTES if not hasattr(self, a)]
        self._keeps_reason = _ReasonPhraseAgent is not None and not missing
        wire = _WireHeadClientFactory is not None and self._pool._factory is _http11._LenientHTTP11ClientFactory
        if wire:
            self._pool._factory = _WireHeadClientFactory
        global _warned
        if not (self._keeps_reason and wire) and not _warned:
            _warned = True
            logger.warning("Scrapy %(version)s moved the internals this download handler uses (%(what)s): WARC "
                           "records get the standard reason phrase and Scrapy's header names instead of the wire's",
                           {"version": scrapy.__version__,
                            "what": ", ".join(missing) or ("_ScrapyAgent" if _ReasonPhraseAgent is None
                                                           else "the lenient HTTP/1.1 client factory")})

    async def download_request(self, request: Request) -> Response:
        # Meta travels with redirected and retried copies of a request: never let a head
        # recorded for an earlier download stand for this one.
        request.meta.pop(WIRE_META_KEY, None)
        if not self._keeps_reason or _ReasonPhraseAgent is None:
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
