"""A small news site for dedup tests: an English original, two Chinese translations, a repost,
an edited reprint and hard negatives (same ransomware family, other victims).

``PAGES[path] = (content_type, html)``; ``{base}`` in a page is replaced by the test server's
``http://127.0.0.1:PORT``. ``EXPECTED`` lists the pairs the detector must flag with their kind,
``NEGATIVES`` the pairs it must not flag.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML = "text/html; charset=utf-8"


def _page(lang: str, title: str, published: str, paragraphs: list[str], footer: str = "") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="{published}">
</head><body>
<nav><a href="/">Home</a> <a href="/en/">News</a> <a href="/zh/">中文</a></nav>
<article><h1>{title}</h1>
<p class="byline">{published[:10]}</p>
{body}
</article>
<footer>{footer}</footer>
</body></html>"""


EN_ORIGINAL = [
    "The LockBit ransomware gang has claimed responsibility for a cyberattack on St. Olaf Medical Center "
    "in Minnesota that forced the hospital to divert ambulances and postpone surgeries on March 1.",
    "According to a statement from the hospital, the attackers breached its network through an unpatched "
    "ConnectWise ScreenConnect server, exploiting the authentication bypass flaw tracked as CVE-2024-1709.",
    "The gang says it stole 1.2 million patient records, including insurance details and lab results, and "
    "demands a ransom of $2 million, threatening to publish the data on its Tor leak site within 14 days.",
    "St. Olaf Medical Center said emergency rooms remained open but that 37 scheduled operations had to be "
    "rescheduled while its IT team restored electronic health record systems from offline backups.",
    "The FBI and the Cybersecurity and Infrastructure Security Agency (CISA) are investigating. CISA added "
    "CVE-2024-1709 to its Known Exploited Vulnerabilities catalog last week and urged all ScreenConnect "
    "customers to upgrade to version 23.9.8 immediately.",
]

EN_REPRINT = [
    "The LockBit ransomware operation has claimed a cyberattack on St. Olaf Medical Center in Minnesota "
    "that forced the hospital to divert ambulances and postpone surgeries on March 1.",
    EN_ORIGINAL[1],
    EN_ORIGINAL[2],
    "St. Olaf Medical Center said its emergency rooms remained open, but 37 scheduled operations had to be "
    "rescheduled while the IT team restored electronic health record systems from offline backups.",
    EN_ORIGINAL[4],
    "This story was first published by our partner site and is republished with permission.",
]

ZH_TRANSLATION = [
    "LockBit勒索软件团伙声称对明尼苏达州St. Olaf Medical Center遭受的网络攻击负责，此次攻击迫使该医院在3月1日"
    "转移救护车并推迟手术。",
    "根据医院发布的声明，攻击者通过一台未修复的ConnectWise ScreenConnect服务器入侵了其网络，利用的是编号为"
    "CVE-2024-1709的身份验证绕过漏洞。",
    "该团伙称窃取了120万份患者记录，其中包括保险信息和化验结果，并索要200万美元赎金，威胁在14天内将数据"
    "公布在其Tor泄露网站上。",
    "St. Olaf Medical Center表示急诊室仍然开放，但在IT团队利用离线备份恢复电子病历系统期间，有37台预定手术"
    "不得不改期。",
    "美国联邦调查局（FBI）和网络安全和基础设施安全局（CISA）正在调查此事。CISA上周已将CVE-2024-1709列入"
    "已知被利用漏洞目录，并敦促所有ScreenConnect客户立即升级到23.9.8版本。",
]
ZH_SOURCE_LINE = "本文翻译自：{base}/en/lockbit-hospital"

ZH_SECOND_TRANSLATION = [
    "勒索软件组织LockBit日前宣称，明尼苏达州的St. Olaf Medical Center遭到其攻击。3月1日，该医院被迫让救护车"
    "改道前往其他医院，多台手术被延后。",
    "医院方面透露，黑客是利用ConnectWise ScreenConnect服务器上尚未打补丁的认证绕过漏洞（CVE-2024-1709）"
    "进入内网的。",
    "LockBit声称手中握有约120万条病人数据，涉及保险资料与检验报告，开价200万美元，并扬言若14天内不付款就在"
    "暗网泄露站点公开这些数据。",
    "院方称急诊服务未受影响，不过有37台原定手术需要重新安排，IT人员正依靠离线备份还原电子健康档案系统。",
    "FBI与CISA已介入调查。CISA此前已把CVE-2024-1709加入KEV目录，要求ScreenConnect用户尽快升级至23.9.8。",
]

EN_SCHOOL = [
    "The LockBit ransomware gang has listed Riverside Unified School District in California on its data leak "
    "site, claiming to have stolen student records and payroll files in an attack last weekend.",
    "District officials confirmed that classes were cancelled on Tuesday after teachers found their laptops "
    "encrypted, and said phones and the student information portal remain offline.",
    "The attackers demand an undisclosed ransom and have given the district seven days to pay. The district "
    "said it is working with outside incident responders and local law enforcement.",
    "LockBit has hit dozens of school districts in the past year, and education remains one of the sectors "
    "most targeted by ransomware because of limited security budgets and legacy systems.",
]

ZH_LOGISTICS = [
    "日本物流企业Nagoya Harbor Transport近日遭到LockBit勒索软件攻击，港口集装箱码头的调度系统被加密，"
    "装卸作业中断近两天。",
    "公司表示，攻击者利用了一台老旧的Citrix NetScaler设备中的漏洞进入内网，目前尚未发现客户数据外泄的证据。",
    "日本警方已成立专案组调查此事。安全专家指出，港口和航运企业因业务连续性要求高，正成为勒索软件团伙"
    "重点攻击的目标。",
    "该公司已恢复大部分业务，并计划在下个月完成对所有边界设备的补丁更新与安全审计。",
]

_SITE_FOOTER_EN = "© 2024 Example Security News. Subscribe to our newsletter."
_SITE_FOOTER_ZH = "© 2024 安全资讯示例站 版权所有"

PAGES: dict[str, tuple[str, str]] = {
    "/en/lockbit-hospital": (
        HTML, _page("en", "LockBit claims attack on St. Olaf Medical Center, 1.2 million patients affected",
                    "2024-03-01T15:00:00+00:00", EN_ORIGINAL, _SITE_FOOTER_EN)),
    "/zh/lockbit-hospital": (
        HTML, _page("zh", "LockBit声称攻击St. Olaf Medical Center，120万患者受影响",
                    "2024-03-02T09:00:00+08:00", ZH_TRANSLATION + [ZH_SOURCE_LINE], _SITE_FOOTER_ZH)),
    "/zh/lockbit-hospital-2": (
        HTML, _page("zh", "LockBit勒索攻击明尼苏达医院 120万条病人数据遭窃",
                    "2024-03-03T10:30:00+08:00", ZH_SECOND_TRANSLATION, _SITE_FOOTER_ZH)),
    "/zh/lockbit-hospital-repost": (
        HTML, _page("zh", "LockBit声称攻击St. Olaf Medical Center，120万患者受影响",
                    "2024-03-04T08:00:00+08:00",
                    ["转载自安全资讯示例站，版权归原作者所有。"] + ZH_TRANSLATION + [ZH_SOURCE_LINE],
                    "另一个转载站 © 2024")),
    "/en/lockbit-hospital-reprint": (
        HTML, _page("en", "LockBit claims cyberattack on St. Olaf Medical Center",
                    "2024-03-02T12:00:00+00:00", EN_REPRINT, "© 2024 Partner Security Wire")),
    "/en/lockbit-school": (
        HTML, _page("en", "LockBit ransomware hits Riverside Unified School District",
                    "2024-03-04T18:00:00+00:00", EN_SCHOOL, _SITE_FOOTER_EN)),
    "/zh/lockbit-logistics": (
        HTML, _page("zh", "日本港口物流企业遭LockBit勒索软件攻击",
                    "2024-03-05T11:00:00+08:00", ZH_LOGISTICS, _SITE_FOOTER_ZH)),
}

EXPECTED: list[tuple[str, str, str]] = [
    ("/en/lockbit-hospital", "/zh/lockbit-hospital", "translation"),
    ("/en/lockbit-hospital", "/zh/lockbit-hospital-repost", "translation"),
    ("/zh/lockbit-hospital", "/zh/lockbit-hospital-2", "translation_sibling"),
    ("/zh/lockbit-hospital", "/zh/lockbit-hospital-repost", "repost"),
    ("/zh/lockbit-hospital-2", "/zh/lockbit-hospital-repost", "translation_sibling"),
    ("/en/lockbit-hospital", "/en/lockbit-hospital-reprint", "repost"),
]

NEGATIVES: list[tuple[str, str]] = [
    ("/en/lockbit-hospital", "/en/lockbit-school"),
    ("/en/lockbit-hospital-reprint", "/en/lockbit-school"),
    ("/en/lockbit-school", "/zh/lockbit-hospital"),
    ("/en/lockbit-school", "/zh/lockbit-hospital-2"),
    ("/en/lockbit-school", "/zh/lockbit-logistics"),
    ("/zh/lockbit-logistics", "/zh/lockbit-hospital"),
    ("/zh/lockbit-logistics", "/zh/lockbit-hospital-2"),
    ("/zh/lockbit-logistics", "/en/lockbit-hospital"),
]


def serve(pages: dict[str, tuple[str, str]], held: dict[str, tuple[threading.Event, threading.Event]] | None = None,
          ) -> ThreadingHTTPServer:
    """Serve ``pages`` (path -> (content type, html with ``{base}`` for the own address)) on
    127.0.0.1, with a root page linking them all and a robots.txt allowing everything.
    ``held[path] = (arrived, release)``: a request for ``path`` sets ``arrived`` and is answered
    only once ``release`` is set (at most a minute): a crawl that is still running, on demand."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            base = f"http://{self.headers['Host']}"
            if held and self.path in held:
                arrived, release = held[self.path]
                arrived.set()
                release.wait(60)
            if self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
            elif self.path == "/":
                links = "".join(f'<a href="{p}">{p}</a>\n' for p in pages)
                body, ctype = f"<html><body>{links}</body></html>".encode(), "text/html; charset=utf-8"
            elif self.path in pages:
                ctype, html = pages[self.path]
                body = html.replace("{base}", base).encode("utf-8")
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
