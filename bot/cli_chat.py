"""``gridbot chat``: talk to a running gridbot as WeChat would, and see what it pushes.

Each line typed is sent to ``POST {url}/wechat`` exactly as WeChat's server sends it
(``bot.devtools.simulator``: signed with the token; encrypted in safe mode when
``GRIDBOT_WECHAT_AES_KEY`` is set). The passive reply is printed, and so are the pushes
(客服消息, 模板消息, WeCom) that reached the identities used in this session, read from the
sandbox inbox (``GET {url}/sandbox/inbox/{openid}``) after every line, on ``/wait`` and on
an idle tick of ``poll_s`` seconds in a background thread.

Commands::

    /as OPENID                 switch identity (a resident or a grid worker)
    /event subscribe | unsubscribe | CLICK KEY
    /location LAT LNG [LABEL]  a location message
    /voice TEXT                a voice message whose Recognition is TEXT
    /image [URL]               an image message
    /retry                     re-send the last message exactly (same MsgId), as WeChat does
    /wait [SECONDS]            wait for pushes (default 5 s)
    /help, /quit
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported where used: `gridbot --help` must not load httpx or pydantic
    import httpx

    from bot.devtools.simulator import Delivery
    from bot.settings import Settings

WECHAT_TIMEOUT_S = 5.0
"""WeChat waits 5 s for a passive reply, then retries."""

HELP = """Commands 命令:
  /as OPENID                    switch identity 切换身份 (resident or worker)
  /event subscribe|unsubscribe|CLICK KEY   send an event 事件
  /location LAT LNG [LABEL]     send a location 位置
  /voice TEXT                   send a voice message 语音 (Recognition = TEXT)
  /image [URL]                  send an image 图片
  /retry                        resend the last message like WeChat's retry 重试
  /wait [SECONDS]               wait for pushes 等待推送 (default 5)
  /quit                         leave 退出
Any other line is sent as a text message. 其他内容作为文本消息发送。"""

EVENTS = {"subscribe": "subscribe", "unsubscribe": "unsubscribe", "click": "CLICK",
          "view": "VIEW", "scan": "SCAN", "location": "LOCATION"}


class ChatSession:
    """One person's chat with a gridbot server; ``openid`` changes with ``/as``.

    Output goes through ``typer.echo``; pushes are printed once each, for every openid
    used in the session, from the moment the session started.
    """

    def __init__(self, url: str, openid: str, settings: Settings, http: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self.openid = openid
        from bot.devtools.simulator import WeChatSimulator

        self.http = http
        self.sim = WeChatSimulator(settings.wechat_token, settings.wechat_app_id,
                                   settings.wechat_aes_key)
        self.last: Delivery | None = None
        self.started_at = time.time() - 1
        self.cursors: dict[str, int] = {openid: 0}
        self.sandbox = True
        self.lock = threading.Lock()

    # -- sending --------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Act on one input line; returns False on /quit."""
        line = line.strip()
        if not line:
            self.poll()
            return True
        if not line.startswith("/"):
            self.send(self.sim.text(self.openid, line))
            return True
        command, _, rest = line[1:].partition(" ")
        command, rest = command.lower(), rest.strip()
        if command in ("quit", "exit", "q"):
            return False
        if command == "as" and rest:
            self.switch(rest.split()[0])
        elif command == "event" and rest:
            name, _, key = rest.partition(" ")
            self.send(self.sim.event(self.openid, EVENTS.get(name.lower(), name),
                                     key.strip() or None))
        elif command == "location":
            self._location(rest)
        elif command == "voice" and rest:
            self.send(self.sim.voice(self.openid, rest))
        elif command == "image":
            self.send(self.sim.image(self.openid, rest or "http://example.invalid/photo.jpg"))
        elif command == "retry":
            if self.last is None:
                typer.echo("  (nothing to retry 没有可重试的消息)")
            else:
                self.send(self.sim.retry(self.last))
        elif command == "wait":
            self.wait(float(rest) if _is_number(rest) else 5.0)
        else:
            typer.echo(HELP)
        return True

    def _location(self, rest: str) -> None:
        parts = rest.split(maxsplit=2)
        if len(parts) < 2 or not (_is_number(parts[0]) and _is_number(parts[1])):
            typer.echo("  usage 用法: /location LAT LNG [LABEL]")
            return
        label = parts[2] if len(parts) > 2 else ""
        self.send(self.sim.location(self.openid, float(parts[0]), float(parts[1]), label))

    def switch(self, openid: str) -> None:
        """Speak as ``openid`` from now on and watch its pushes too (``/as``)."""
        with self.lock:
            self.openid = openid
            self.cursors.setdefault(openid, 0)
        typer.echo(f"  (now chatting as 当前身份: {openid})")
        self.poll()

    def send(self, delivery: Delivery) -> None:
        """POST one delivery to the webhook and print the passive reply, then new pushes."""
        import httpx

        self.last = delivery
        try:
            response = self.http.post(
                f"{self.url}/wechat", params=delivery.params, content=delivery.body,
                headers={"Content-Type": "text/xml"}, timeout=WECHAT_TIMEOUT_S,
            )
        except httpx.TimeoutException:
            typer.echo(f"  ! no reply within {WECHAT_TIMEOUT_S:.0f} s; WeChat would retry (/retry)"
                       " 5秒内无应答")
            return
        except httpx.HTTPError as exc:
            typer.echo(f"  ! cannot reach {self.url}/wechat: {exc} 无法连接")
            return
        if response.status_code != 200:
            typer.echo(f"  ! HTTP {response.status_code} {response.text[:200]!r}"
                       " (WeChat shows 该公众号暂时无法提供服务)")
        else:
            self._print_reply(response.content)
        self.poll()

    def _print_reply(self, body: bytes) -> None:
        reply = self.sim.read_reply(body)
        if not reply:
            typer.echo("  (no reply 无回复)")
        elif reply.get("MsgType") == "text":
            typer.echo(_indent("← ", reply.get("Content") or ""))
        else:
            typer.echo(f"  ← [{reply.get('MsgType')}] {reply}")

    # -- pushes ---------------------------------------------------------------------------
    def poll(self) -> int:
        """Print the pushes not shown yet for every openid of the session; returns how many."""
        import httpx

        if not self.sandbox:
            return 0
        shown = 0
        with self.lock:
            for openid, after in list(self.cursors.items()):
                try:
                    response = self.http.get(f"{self.url}/sandbox/inbox/{openid}",
                                             params={"after": after}, timeout=WECHAT_TIMEOUT_S)
                except httpx.HTTPError:
                    return shown  # the server is away; the next tick tries again
                if response.status_code == 404:
                    self.sandbox = False
                    typer.echo("  (no sandbox at this server: pushes are not shown"
                               " 服务器未启用沙箱，不显示推送)")
                    return shown
                if response.status_code != 200:
                    return shown
                page = response.json()
                for message in page["messages"]:
                    if message.get("at", 0) >= self.started_at:
                        mark = "⇐" if openid == self.openid else "·"
                        typer.echo(_indent(f"{mark} push → {openid} [{message['api']}] ",
                                           message["text"]))
                        shown += 1
                self.cursors[openid] = page["next"]
        return shown

    def wait(self, seconds: float) -> int:
        """Poll until at least one push is shown or ``seconds`` pass; returns how many."""
        deadline = time.monotonic() + seconds
        shown = self.poll()
        while not shown and time.monotonic() < deadline:
            time.sleep(0.1)
            shown = self.poll()
        if not shown:
            typer.echo("  (no push 暂无推送)")
        return shown


def _indent(head: str, text: str) -> str:
    lines = text.splitlines() or [""]
    pad = " " * (len(head) + 2)
    return "  " + head + lines[0] + "".join("\n" + pad + line for line in lines[1:])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def chat(
    url: Annotated[str, typer.Option(help="gridbot 服务器地址。")] = "http://127.0.0.1:8000",
    openid: Annotated[str, typer.Option(help="你以谁的身份说话（OpenID），"
                                                  "如 worker-g1 为网格员。")] = "resident-demo",
    poll_s: Annotated[float, typer.Option(help="空闲时每隔几秒查看一次推送。")] = 1.0,
) -> None:
    """Chat with a running gridbot as a resident or a grid worker, as WeChat would.

    Reads lines from stdin until EOF or /quit. Token, AppID and EncodingAESKey come from
    the GRIDBOT_* environment (Settings), and must match the server's.
    """
    import httpx

    from bot.settings import Settings

    settings = Settings()
    mode = "safe mode 安全模式" if settings.safe_mode else "plaintext 明文模式"
    with httpx.Client() as http:
        session = ChatSession(url, openid, settings, http)
        interactive = sys.stdin.isatty()
        typer.echo(f"gridbot chat → {session.url}/wechat ({mode}) as {openid}")
        typer.echo("Type a message, /help for commands. 输入消息，/help 查看命令。")
        stop = threading.Event()
        ticker = threading.Thread(target=_tick, args=(session, stop, poll_s), daemon=True)
        if poll_s > 0:
            ticker.start()
        try:
            while True:
                if interactive:
                    typer.echo(f"[{session.openid}] > ", nl=False)
                line = sys.stdin.readline()
                if not line:
                    break
                if not interactive and line.strip():
                    typer.echo(f"[{session.openid}] > {line.strip()}")
                if not session.handle(line):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            if ticker.is_alive():
                ticker.join(timeout=WECHAT_TIMEOUT_S)
        session.poll()


def _tick(session: ChatSession, stop: threading.Event, poll_s: float) -> None:
    while not stop.wait(poll_s):
        session.poll()
