"""The console under its Content-Security-Policy (``script-src 'self'``): no page is blocked
from running what it needs — every page loads without a CSP violation or script error, the
queue's htmx filter, the dashboard's charts and the lexicon page's auto-submitting select
still work — while an injected inline script would not run."""

from __future__ import annotations

VIOLATIONS = """() => { window.__csp = []; document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }"""


def _violations(page) -> list[str]:
    return page.evaluate("() => window.__csp || []")


def test_every_page_runs_under_the_policy(page, server, staff_login):
    page.add_init_script(VIOLATIONS.strip().removeprefix("() => {").removesuffix("}"))
    staff_login(page, "admin-1")
    for path in ("/console/", "/console/kept", "/console/dashboard", "/console/exports",
                 "/console/config", "/console/config/sla", "/console/config/lexicon",
                 "/console/audit", "/console/password"):
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert _violations(page) == [], (path, _violations(page))
    page.goto("/console/dashboard")
    page.wait_for_function("() => document.querySelectorAll('canvas').length > 0")
    page.goto("/console/config/lexicon")
    page.get_by_label("选择意图").select_option("complaint")  # data-autosubmit (console.js)
    page.wait_for_url("**intent=complaint**")
    assert _violations(page) == []


def test_an_injected_inline_script_would_not_run(page, server, staff_login):
    page.add_init_script(VIOLATIONS.strip().removeprefix("() => {").removesuffix("}"))
    staff_login(page, "admin-1")
    page.goto("/console/")
    page.evaluate("""() => { const s = document.createElement('div');
        s.innerHTML = '<img src=x onerror="window.__pwned = 1">';
        document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__pwned") is None
    assert any(v.startswith("script-src") for v in _violations(page))  # the listener works
