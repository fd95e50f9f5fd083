"""deploy/grafana/aidservice.json and deploy/prometheus/alerts.yml: well-formed, and every metric they query is one
/metrics serves (a renamed metric would leave a panel empty and an alert silent)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "aidservice.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
METRIC = re.compile(r"\baid_[a-z0-9_]+\b")
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_info")


def served_names(client: FlaskClient) -> set[str]:
    """Every sample name /metrics can serve, from its TYPE lines (families with no sample yet included)."""
    text = client.get("/metrics").get_data(as_text=True)
    families = re.findall(r"^# TYPE (\S+) \S+$", text, flags=re.MULTILINE)
    return {family + suffix for family in families for suffix in SUFFIXES}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_dashboard_has_the_panels_an_operator_looks_at_first() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert {"Request rate by status", "Error rate (5xx share)", "p99 latency by route"} <= set(titles)
    assert {"Job queue age (oldest queued, by kind)", "Feed batches per source"} <= set(titles)
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(titles)
    assert dashboard["uid"] == "aidservice"


def test_every_alert_rule_is_complete_and_the_required_ones_exist() -> None:
    rules = alert_rules()
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule.get("alert")
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["summary"]
    queried = " ".join(rule["expr"] for rule in rules)
    assert 'status=~"5.."' in queried  # error rate
    assert "histogram_quantile(0.99" in queried  # p99
    assert "aid_job_queue_age_seconds" in queried  # job age
    assert "sum by (source) (increase(aid_feed_batches_total" in queried  # feed silence per source
    assert len({rule["alert"] for rule in rules}) == len(rules)


def test_every_metric_the_dashboard_and_alerts_query_is_served(client: FlaskClient) -> None:
    served = served_names(client)
    queried = {
        name
        for expr in dashboard_exprs() + [r["expr"] for r in alert_rules()]
        for name in METRIC.findall(expr)
    }
    assert queried, "no aid_ metric queried"
    assert queried <= served, sorted(queried - served)


def test_a_route_label_in_the_alerts_is_a_route_template_of_the_app(client: FlaskClient) -> None:
    routes = {rule.rule for rule in client.application.url_map.iter_rules()}
    named = {m for r in alert_rules() for m in re.findall(r'route!?="([^"]+)"', r["expr"])}
    assert named and named <= routes, sorted(named - routes)
