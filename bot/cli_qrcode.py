"""`gridbot qrcode` — the parametric QR codes (带参数二维码) of the account's communities.

    gridbot qrcode [--community NAME] [--buildings] [--out DIR]

Lists each community's scene (``c<id>``; with ``--buildings`` each building's ``b<id>``) and
its estates; with ``--out`` creates the codes through the WeChat API (``bot.qrcodes``) and
writes one image per scene into DIR (``c2-阳光社区.png``; ``.jpg`` when WeChat serves JPEG).
A resident who scans one is recorded as living in that community. Exit 1 for an unknown
community or a failed API call.

Registered by bot/cli.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

_UNSAFE = re.compile(r"[\\/:*?\"<>|\s]+")


def qrcode(
    community: Annotated[str | None, typer.Option(metavar="社区名", show_default=False,
                                                  help="只处理这个社区（默认全部社区）。")] = None,
    buildings: Annotated[bool, typer.Option(help="另为每栋楼生成一个二维码（贴在楼道里）。")] = False,
    out: Annotated[Path | None, typer.Option(metavar="目录", show_default=False,
                                             help="经微信接口生成二维码，PNG 图片写入此目录；"
                                                  "不给则只列出场景值。")] = None,
) -> None:
    """List the communities' QR scenes, or create the codes and write PNGs."""
    from sqlmodel import select

    from bot.preflight import load_settings, open_engine
    from storage import org
    from storage.db import session_scope
    from storage.estates import scene_for
    from storage.models import Building

    settings = load_settings()
    engine = open_engine(settings)
    codes: list[tuple[str, str, str]] = []  # (scene, file stem, description)
    with session_scope(engine) as session:
        chosen = [c for c in org.communities(session) if community in (None, c.name)]
        if not chosen:
            typer.echo(f"找不到社区「{community}」。", err=True)
            raise typer.Exit(1)
        for c in chosen:
            estates = "、".join(c.estates)
            codes.append((scene_for(community_id=c.id), c.name,
                          c.name + (f"（{estates}）" if estates else "")))
            if buildings:
                for b in session.exec(select(Building).where(Building.community_id == c.id)
                                      .order_by(Building.number, Building.id)):
                    codes.append((scene_for(building_id=b.id), f"{c.name}-{b.name}",
                                  f"{c.name} {b.name}"))
    engine.dispose()
    if out is None:
        for scene, _stem, description in codes:
            typer.echo(f"{scene}\t{description}")
        return
    _create(settings, codes, out)


def _create(settings, codes: list[tuple[str, str, str]], out: Path) -> None:
    import requests
    from wechatpy.exceptions import WeChatClientException

    from bot.qrcodes import PNG_MAGIC, QRCodeImageError, create_png
    from bot.wechat_api import official_client
    from storage.redis import sync_client

    out.mkdir(parents=True, exist_ok=True)
    client = official_client(settings, sync_client(settings.redis_url))
    for scene, stem, description in codes:
        try:
            image, _url = create_png(client, scene)
        except (WeChatClientException, QRCodeImageError, requests.RequestException) as exc:
            typer.echo(f"{scene}\t{description}\t生成失败：{exc}", err=True)
            raise typer.Exit(1) from None
        suffix = ".png" if image.startswith(PNG_MAGIC) else ".jpg"  # WeChat's own are JPEG
        path = out / f"{scene}-{_UNSAFE.sub('_', stem)}{suffix}"
        path.write_bytes(image)
        typer.echo(f"{scene}\t{description}\t{path}")
