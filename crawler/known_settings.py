"""Which settings exist and what each takes: a misspelt name or a wrong value is found before anything runs.

A setting is known when `crawler/settings.py` or Scrapy's defaults define it; its value must have
the type of that default. Values from ``-s`` are strings and are parsed the way Scrapy's
``getint``/``getbool``/``getdict`` will read them, so a value that passes here cannot fail later.
A default of ``None`` says nothing about the type: any value passes.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable
from functools import cache
from typing import Any

from crawler.errors import ConfigError

#: Level names LOG_LEVEL accepts (the logging module's own).
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

_BOOL_STRINGS = {"true": True, "false": False, "1": True, "0": False}


@cache
def defaults() -> dict[str, Any]:
    """Every known setting and its default: Scrapy's, then ours over them."""
    import scrapy.settings.default_settings as scrapy_defaults

    import crawler.settings as ours

    known = {k: getattr(scrapy_defaults, k) for k in dir(scrapy_defaults) if k.isupper()}
    known.update({k: getattr(ours, k) for k in dir(ours) if k.isupper()})
    return known


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean `X`?)`` for the closest choice, or nothing when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def check_setting(name: str, value: Any, where: str) -> Any:
    """``value`` as Scrapy will read it, or ConfigError naming ``where`` it came from, the setting and
    the closest known name."""
    known = defaults()
    if name not in known:
        raise ConfigError(f"{where}: unknown setting {name!r}{did_you_mean(name, known.keys())}")
    if name == "LOG_LEVEL":
        return check_log_level(value, where)
    default = known[name]
    if default is None:
        return value
    try:
        return _coerce(default, value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: setting {name}: {e}, got {value!r}") from None


def check_log_level(value: Any, where: str = "--log-level") -> str:
    level = str(value).upper()
    if level not in LOG_LEVELS and not (isinstance(value, int) and logging.getLevelName(value) in LOG_LEVELS):
        raise ConfigError(f"{where}: log level {value!r}: expected one of {', '.join(LOG_LEVELS)}")
    return level if level in LOG_LEVELS else value


def _coerce(default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool) or value in (0, 1):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
            return _BOOL_STRINGS[value.strip().lower()]
        raise ValueError("expected true or false")
    if isinstance(default, (int, float)):
        # Scrapy reads many int-defaulted settings as floats (DOWNLOAD_DELAY = 0 takes 0.25).
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text)
            except ValueError:
                pass
            try:
                return float(text)
            except ValueError:
                pass
        raise ValueError("expected a number")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise ValueError("expected a string")
    if isinstance(default, dict):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("expected a JSON object such as {\"name\": 1}") from None
        if isinstance(value, dict):
            return value
        raise ValueError("expected a table (a JSON object on the command line)")
    if isinstance(default, (list, tuple)):
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise ValueError("expected a JSON list or comma-separated values") from None
            else:
                return value  # Scrapy's getlist splits on commas
        if isinstance(value, (list, tuple)):
            return list(value)
        raise ValueError("expected a list")
    return value
