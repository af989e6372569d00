"""The deploy files serve the staff console: nginx proxies /console/ with the client's
address, and gridbot-web trusts that header (login throttling counts per client)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_nginx_proxies_the_console_with_the_client_address():
    body = re.sub(r"#.*", "", (DEPLOY / "nginx.conf").read_text())
    block = re.search(r"location /console/ \{(.*?)\}", body, re.S)
    assert block, "no location /console/"
    assert "proxy_pass http://gridbot_web;" in block.group(1)
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in block.group(1)
    size = re.search(r"client_max_body_size (\d+)m;", block.group(1))
    assert size and int(size.group(1)) >= 2  # storage.importer.MAX_FILE_BYTES is 2 MiB


def test_the_web_service_trusts_forwarded_headers_and_keeps_its_settings():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    web = compose["services"]["gridbot-web"]
    assert web["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    assert web["environment"]["GRIDBOT_ENVIRONMENT"] == "production"
    assert "ports" not in web  # reachable through nginx only
