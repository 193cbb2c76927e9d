"""A setuptools shim for `scrapyd-deploy`, which builds its egg with ``python setup.py bdist_egg``.

Everything is declared in pyproject.toml, the ``scrapy`` entry point scrapyd reads included;
without this file scrapyd-deploy writes its own, which names the project "project" and packs
every package of the checkout, tests too.
"""

from setuptools import setup

setup()
