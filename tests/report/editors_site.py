"""Five outlets on five local servers, crawled as five sources: what the editors' report and app are tested on.

From ``tests/dedup/dedup_site.py``: an English original (bleepingnews), its translation with a
source line (fourhou), a second independent translation (freebuf; siblings), a repost of the
translation (reposter), an English reprint (securitywire) and hard negatives. Added here: one
incident reported by two English outlets in their own words (same story), and a hostile
repost whose title and text carry ``<script>``, ``<img onerror>``, a ``javascript:`` link and
quotes; the page's own markup tries the same (it must never run in the report or the app).
"""

from __future__ import annotations

import html
from pathlib import Path

from tests.conftest import crawl
from tests.dedup import dedup_site as d

HTML = d.HTML

HOSTILE_TITLE = '"\'><script>window.__xss=1</script><img src=x onerror="window.__xss=2">港口遭LockBit攻击'
HOSTILE_TEXT = (
    "转载：<img src=x onerror=window.__xss=4> 点击 javascript:window.__xss=3 查看 \"原文\" '引用'"
    " </blockquote><script>window.__xss=5</script>"
)

SAME_STORY_A = [
    "Ivanti has warned that a critical flaw in Connect Secure VPN appliances, tracked as CVE-2025-0282, is being "
    "exploited in the wild to deploy malware on corporate gateways before a patch was available.",
    "The stack-based buffer overflow lets unauthenticated attackers run code remotely. Ivanti said a limited "
    "number of customers were hit and released Connect Secure version 22.7R2.5 on January 8.",
    "Mandiant attributed the intrusions to the China-nexus espionage group UNC5337, which dropped the SPAWN "
    "malware family, including the SPAWNANT installer and the SPAWNMOLE tunneler.",
    "CISA added CVE-2025-0282 to its Known Exploited Vulnerabilities catalog and ordered federal agencies to "
    "patch by January 15. Policy Secure and Neurons for ZTA gateways will be fixed on January 21.",
]
SAME_STORY_B = [
    "Hackers are exploiting CVE-2025-0282, a critical Ivanti Connect Secure zero-day, to break into VPN "
    "appliances, Ivanti confirmed on Wednesday as it shipped version 22.7R2.5 with a fix.",
    "According to Mandiant, the attacks are the work of UNC5337, a suspected China-nexus espionage cluster, "
    "and install the SPAWN malware ecosystem: SPAWNANT, SPAWNMOLE and the SPAWNSNAIL backdoor.",
    "The buffer overflow can be triggered without authentication. Ivanti said only a limited number of "
    "Connect Secure customers were affected; Policy Secure and Neurons for ZTA patches follow on January 21.",
    "CISA put CVE-2025-0282 on its Known Exploited Vulnerabilities list, giving federal civilian agencies until "
    "January 15 to apply the update.",
]

#: outlet (source name) -> lang, {path: (content type, html)}
OUTLETS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "bleepingnews": (
        "en",
        {
            "/en/lockbit-hospital": d.PAGES["/en/lockbit-hospital"],
            "/en/lockbit-school": d.PAGES["/en/lockbit-school"],
            "/en/ivanti-zero-day": (
                HTML,
                d._page(
                    "en",
                    "Ivanti warns of Connect Secure zero-day CVE-2025-0282 exploited in attacks",
                    "2025-01-08T18:30:00+00:00",
                    SAME_STORY_A,
                    "© 2025 BleepingNews",
                ),
            ),
        },
    ),
    "securitywire": (
        "en",
        {
            "/en/lockbit-hospital-reprint": d.PAGES["/en/lockbit-hospital-reprint"],
            "/en/ivanti-connect-secure": (
                HTML,
                d._page(
                    "en",
                    "Ivanti Connect Secure zero-day CVE-2025-0282 exploited by China-nexus hackers",
                    "2025-01-08T21:45:00+00:00",
                    SAME_STORY_B,
                    "© 2025 Security Wire",
                ),
            ),
        },
    ),
    "fourhou": (
        "zh",
        {
            "/zh/lockbit-hospital": d.PAGES["/zh/lockbit-hospital"],
            "/zh/lockbit-logistics": d.PAGES["/zh/lockbit-logistics"],
        },
    ),
    "freebuf": (
        "zh",
        {
            "/zh/lockbit-hospital-2": d.PAGES["/zh/lockbit-hospital-2"],
        },
    ),
    "reposter": (
        "zh",
        {
            "/zh/lockbit-hospital-repost": d.PAGES["/zh/lockbit-hospital-repost"],
            "/zh/logistics-repost": (
                HTML,
                d._page(
                    "zh",
                    html.escape(HOSTILE_TITLE),
                    "2024-03-06T09:15:00+08:00",
                    [html.escape(HOSTILE_TEXT)]
                    + d.ZH_LOGISTICS
                    + ['<a href="javascript:window.__xss=6">原文</a> <img src=x onerror="window.__xss=7">'],
                    "另一个转载站 © 2024",
                ),
            ),
        },
    ),
}

#: (outlet, path) pairs and the kind of relation the report must show between them, original first.
EXPECTED = [
    (("bleepingnews", "/en/lockbit-hospital"), ("fourhou", "/zh/lockbit-hospital"), "translation"),
    (("bleepingnews", "/en/lockbit-hospital"), ("freebuf", "/zh/lockbit-hospital-2"), "translation"),
    (("bleepingnews", "/en/lockbit-hospital"), ("securitywire", "/en/lockbit-hospital-reprint"), "repost"),
    (("fourhou", "/zh/lockbit-hospital"), ("reposter", "/zh/lockbit-hospital-repost"), "repost"),
    (("bleepingnews", "/en/ivanti-zero-day"), ("securitywire", "/en/ivanti-connect-secure"), "same_story"),
    (("fourhou", "/zh/lockbit-logistics"), ("reposter", "/zh/logistics-repost"), "repost"),
]


def crawl_outlets(tmp: Path) -> tuple[Path, dict[str, str]]:
    """Crawl every outlet into ``tmp/archive``; returns the archive and each outlet's base URL.

    The translations cite the original at ``{base}/en/...``: each outlet's server rewrites
    ``{base}`` to the English outlet's address so the source link points at the real original.
    """
    served = {name: dict(pages) for name, (_lang, pages) in OUTLETS.items()}
    servers = {name: d.serve(pages) for name, pages in served.items()}
    bases = {name: f"http://127.0.0.1:{s.server_address[1]}" for name, s in servers.items()}
    en_base = bases["bleepingnews"]
    for pages in served.values():
        for path, (ctype, page) in list(pages.items()):
            pages[path] = (ctype, page.replace("{base}", en_base))
    sources = tmp / "sources.toml"
    sources.write_text(
        "".join(
            f'[[source]]\nname = "{name}"\nlang = "{lang}"\nstart_urls = ["{bases[name]}/"]\n'
            f"allowed_domains = [\"{bases[name][7:]}\"]\narticle_pattern = '/(en|zh)/[a-z0-9-]+$'\n\n"
            for name, (lang, _pages) in OUTLETS.items()
        ),
        encoding="utf-8",
    )
    try:
        run = crawl(tmp, sources, tmp / "archive")
    finally:
        for s in servers.values():
            s.shutdown()
            s.server_close()
    assert run.proc.returncode == 0, run.log[-3000:]
    return tmp / "archive", bases
