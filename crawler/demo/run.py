"""`make demo`: serve the bundled demo site on 127.0.0.1, crawl it, then list and get a page. Offline."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from crawler.demo.site import GZIP_SLUG, serve_in_thread


def main(archive: str = "./demo-archive") -> int:
    server, base = serve_in_thread(0)
    host = base.split("//", 1)[1]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sources = Path(tmp) / "demo-sources.toml"
            sources.write_text(textwrap.dedent(f"""\
                [[source]]
                name = "demo"
                lang = "en"
                start_urls = ["{base}/"]
                allowed_domains = ["{host}"]
                feeds = ["{base}/feed.xml"]
                article_pattern = '/posts/[a-z0-9-]+$'
                """), encoding="utf-8")
            print(f"== demo site at {base}; crawling into {archive}", flush=True)
            run = [sys.executable, "-m", "crawler"]
            steps = [
                [*run, "crawl", "--sources", str(sources), "--archive", archive, "--profile", "test",
                 "--log-level", "WARNING", "-O", str(Path(archive).with_name("demo-articles.jsonl"))],
                [*run, "list", f"{base}/posts/{GZIP_SLUG}", "--archive", archive],
                [*run, "get", f"{base}/posts/{GZIP_SLUG}", "--archive", archive, "--headers"],
            ]
            for cmd in steps:
                print("$ newsarchive " + " ".join(cmd[3:]), flush=True)
                code = subprocess.call(cmd)
                if code:
                    return code
            print(f"$ newsarchive get {base}/posts/{GZIP_SLUG} --archive {archive} | head -c 300", flush=True)
            out = subprocess.run([*run, "get", f"{base}/posts/{GZIP_SLUG}", "--archive", archive],
                                 capture_output=True, check=True).stdout
            print(out[:300].decode("utf-8", "replace"))
            print(f"\nThe demo site is gone now; its pages live on in {archive}/warcs/.")
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))
