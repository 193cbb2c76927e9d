"""`newsarchive serve`: the web app over the archive (search, captures, articles, the live report, crawl status)."""
