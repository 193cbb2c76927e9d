"""The demo security-news site for `make demo`: a home page, a feed, six posts, on 127.0.0.1.

``python -m crawler.demo.site --port 8765`` prints ``READY http://127.0.0.1:8765`` and serves
until interrupted; ``serve_in_thread()`` runs it inside the current process.

Paths:
  /robots.txt           allows everything except /drafts/
  /                     home page linking every post and /drafts/upcoming, announcing the feed
  /feed.xml             RSS 2.0 of every post, absolute links built from the Host header
  /posts/<slug>         four English posts, one of them a lightly edited syndicated copy of
                        another (a near-duplicate), and two Chinese posts: one a translation of
                        an English post, ending with ``本文翻译自：http://<Host>/posts/<slug>``
  /posts/npm-token-theft  always sent with ``Content-Encoding: gzip``
  /drafts/upcoming      disallowed by robots.txt
Bodies are deterministic except where they embed the Host header.
"""

from __future__ import annotations

import argparse
import gzip
import threading
from dataclasses import dataclass

from crawler.demo.httpd import Response, SiteServer

DEFAULT_PORT = 8765
ROBOTS_TXT = b"User-agent: *\nDisallow: /drafts/\n"
# The one post served gzip-encoded, so the demo archive shows bytes kept as received.
GZIP_SLUG = "npm-token-theft"


@dataclass(frozen=True)
class Post:
    slug: str
    lang: str
    title: str
    date: str
    paragraphs: tuple[str, ...]
    translated_from: str | None = None  # slug of the English original


HOSPITAL_PARAGRAPHS = (
    "A ransomware attack has forced St. Aldric Regional Hospital to divert ambulances to "
    "neighbouring facilities for the second day, hospital officials said on Wednesday. Staff "
    "have returned to paper records while the hospital's electronic health record system "
    "remains offline.",
    "The attackers encrypted servers used for scheduling, laboratory results and radiology "
    "images, according to a person familiar with the investigation. A ransom note left on the "
    "affected machines demanded payment in cryptocurrency within seven days and threatened to "
    "publish stolen patient data.",
    "The hospital said it had notified law enforcement and hired an outside incident response "
    "firm. It has not said whether it intends to pay the ransom, and it has not confirmed "
    "whether patient data was stolen.",
    "Healthcare providers have become frequent targets of ransomware gangs because disruptions "
    "to patient care create pressure to pay quickly. Security experts recommend that hospitals "
    "keep offline backups, segment clinical networks and enforce multi-factor authentication "
    "on remote access.",
)

POSTS: tuple[Post, ...] = (
    Post(
        "hospital-ransomware",
        "en",
        "Ransomware attack forces regional hospital to divert ambulances",
        "2026-11-04",
        HOSPITAL_PARAGRAPHS,
    ),
    Post(
        "router-botnet-takedown",
        "en",
        "Police take down botnet of 300,000 hijacked home routers",
        "2026-11-05",
        (
            "Police in nine countries have dismantled a botnet built from roughly 300,000 "
            "hijacked home routers and security cameras, seizing forty command-and-control "
            "servers and arresting two suspected operators.",
            "The botnet exploited default passwords and years-old firmware bugs to take over "
            "devices, then rented their bandwidth to customers who launched denial-of-service "
            "attacks against game servers, banks and government portals.",
            "Investigators redirected the infected devices to a sinkhole they control and are "
            "sharing the list of affected addresses with internet providers, who will notify "
            "customers. Owners are advised to reboot their devices, change default passwords "
            "and install the latest firmware.",
        ),
    ),
    Post(
        GZIP_SLUG,
        "en",
        "Hijacked npm package steals tokens from build servers",
        "2026-11-06",
        (
            "A widely used JavaScript package was hijacked and used to steal access tokens "
            "from developer machines and continuous integration servers, researchers said.",
            "The attacker phished the maintainer's account and published two malicious "
            "versions whose install script collected cloud credentials and SSH keys. The "
            "versions were available for about nine hours before the registry removed them.",
            "Teams that installed the package during that window should rotate every secret "
            "the build could read. Pinning dependency versions with a lockfile and disabling "
            "install scripts reduce the exposure to this kind of attack.",
        ),
    ),
    Post(
        "hospital-ransomware-syndicated",
        "en",
        "Hospital diverts ambulances after ransomware attack",
        "2026-11-05",
        (
            "A ransomware attack has forced St. Aldric Regional Hospital to divert ambulances "
            "to nearby facilities for a second day, hospital officials said on Wednesday. Staff "
            "have gone back to paper records while the hospital's electronic health record "
            "system remains offline.",
            *HOSPITAL_PARAGRAPHS[1:],
            "This story was distributed by the Demo Security Wire.",
        ),
    ),
    Post(
        "hospital-ransomware-zh",
        "zh",
        "勒索软件攻击迫使地区医院分流救护车",
        "2026-11-05",
        (
            "医院官员周三表示，一次勒索软件攻击已连续第二天迫使圣阿尔德里克地区医院将救护车分流至附近的"
            "医疗机构。由于医院的电子病历系统仍处于离线状态，工作人员已恢复使用纸质记录。",
            "据一位了解调查情况的人士透露，攻击者加密了用于排班、化验结果和放射影像的服务器。攻击者在受"
            "影响的计算机上留下勒索信，要求在七天内以加密货币支付赎金，并威胁公开被盗的患者数据。",
            "该医院表示，已通知执法部门，并聘请了一家外部事件响应公司。医院尚未说明是否打算支付赎金，"
            "也未确认患者数据是否被盗。",
            "由于对患者护理的干扰会带来迅速付款的压力，医疗机构已成为勒索软件团伙的常见目标。安全专家建"
            "议医院保留离线备份、对临床网络进行隔离，并对远程访问强制启用多因素认证。",
        ),
        translated_from="hospital-ransomware",
    ),
    Post(
        "delivery-sms-phishing",
        "zh",
        "冒充快递公司的短信钓鱼活动激增",
        "2026-11-07",
        (
            "多家安全公司报告称，近期冒充快递公司的钓鱼短信数量明显增加。短信声称包裹因地址不完整而无法"
            "投递，并附上一个要求用户补充信息的链接。",
            "该链接指向仿冒的快递网站，页面会要求受害者填写姓名、住址和银行卡信息，并支付少量的重新派送"
            "费用。攻击者随后利用窃取的银行卡信息进行盗刷。",
            "专家提醒用户，不要点击短信中的陌生链接，应通过官方应用或网站查询包裹状态，并及时向运营商举"
            "报可疑短信。",
        ),
    ),
)
POSTS_BY_SLUG: dict[str, Post] = {post.slug: post for post in POSTS}


def _page(title: str, body: str, lang: str = "en", head_extra: str = "") -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n{head_extra}</head>\n<body>\n"
        f'<header><a href="/">Demo Security News</a></header>\n{body}\n</body>\n</html>\n'
    ).encode("utf-8")


def post_html(post: Post, host: str) -> bytes:
    paragraphs = [f"<p>{p}</p>" for p in post.paragraphs]
    if post.translated_from:
        paragraphs.append(f"<p>本文翻译自：http://{host}/posts/{post.translated_from}</p>")
    body = (
        f"<article>\n<h1>{post.title}</h1>\n<time>{post.date}</time>\n"
        + "\n".join(paragraphs)
        + "\n</article>"
    )
    lang = "zh-CN" if post.lang == "zh" else "en"
    return _page(post.title, body, lang)


def home_html() -> bytes:
    items = "\n".join(
        f'<li><a href="/posts/{p.slug}">{p.title}</a> <time>{p.date}</time></li>' for p in POSTS
    )
    body = (
        f"<h1>Demo Security News</h1>\n<ul>\n{items}\n</ul>\n"
        '<p><a href="/drafts/upcoming">Upcoming (drafts)</a> · <a href="/feed.xml">RSS</a></p>'
    )
    feed = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">\n'
    return _page("Demo Security News", body, head_extra=feed)


def feed_xml(host: str) -> bytes:
    items = "\n".join(
        f"<item><title>{p.title}</title><link>http://{host}/posts/{p.slug}</link>"
        f"<guid>http://{host}/posts/{p.slug}</guid><description>{p.paragraphs[0]}</description>"
        "</item>"
        for p in POSTS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>\n'
        f"<title>Demo Security News</title><link>http://{host}/</link>\n"
        f"<description>The newsarchive demo site</description>\n{items}\n</channel></rss>\n"
    ).encode("utf-8")


class DemoSite:
    """The demo's pages by decoded path (served by crawler/demo/httpd.py)."""

    def respond(self, path: str, host: str) -> Response:
        if path == "/robots.txt":
            return Response(200, ROBOTS_TXT, "text/plain")
        if path == "/":
            return Response(200, home_html())
        if path == "/feed.xml":
            return Response(200, feed_xml(host), "application/rss+xml; charset=utf-8")
        if path == "/drafts/upcoming":
            return Response(200, _page("Drafts", "<p>Not for crawlers.</p>"))
        if path.startswith("/posts/") and path[len("/posts/") :] in POSTS_BY_SLUG:
            slug = path[len("/posts/") :]
            body = post_html(POSTS_BY_SLUG[slug], host)
            if slug == GZIP_SLUG:
                return Response(200, gzip.compress(body, mtime=0), headers=(("Content-Encoding", "gzip"),))
            return Response(200, body)
        return Response(404, _page("Not found", "<h1>404 Not Found</h1>"))


def make_server(port: int = 0) -> SiteServer:
    return SiteServer(("127.0.0.1", port), DemoSite(), name="newsarchive-demo/1.0")


def serve_in_thread(port: int = 0) -> tuple[SiteServer, str]:
    """Serve in a daemon thread; stop with ``server.shutdown(); server.server_close()``."""
    server = make_server(port)
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the newsarchive demo site on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.port)
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")
        return 1
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
