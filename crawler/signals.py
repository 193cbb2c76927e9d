"""Signals newsarchive adds to Scrapy's: components talk to each other without importing each other."""

#: Sent by a pipeline to store a WARC ``metadata`` record about a captured page.
#: Arguments: ``url`` (str), ``refers_to`` (the response record's ``<urn:uuid:...>``),
#: ``payload`` (bytes), ``content_type`` (str).
warc_metadata = object()

#: Sent by the dedup pipeline when it has settled and closed its article catalog (the crawl's
#: flags are final). Arguments: ``catalog`` (Path of the SQLite file).
dedup_catalog_closed = object()

#: Sent on the reactor thread when SIGINT/SIGTERM asks the crawl to stop (crawler.shutdown).
#: Argument: ``force`` (bool): False for the first signal (finish soon: store what can be stored in
#: a few seconds, leave the rest spooled), True for the second (stop every thread now).
stop_requested = object()
