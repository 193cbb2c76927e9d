"""The editors' duplicate report: clusters rendered as HTML, CSV or JSON, and the archived texts behind them."""
