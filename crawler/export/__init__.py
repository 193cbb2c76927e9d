"""Exports of an archive into formats other tools open (WACZ for ReplayWeb.page)."""
