"""Signals newsarchive adds to Scrapy's: components ask the archive to write a record without importing it."""

#: Sent by a pipeline to store a WARC ``metadata`` record about a captured page.
#: Arguments: ``url`` (str), ``refers_to`` (the response record's ``<urn:uuid:...>``),
#: ``payload`` (bytes), ``content_type`` (str).
warc_metadata = object()
