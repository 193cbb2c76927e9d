"""A small bundled security-news site served on 127.0.0.1 for `make demo` (see `site`)."""
