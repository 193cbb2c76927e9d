"""Scrapy middlewares: scope, encodings, trap defences."""
