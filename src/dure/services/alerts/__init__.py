"""Alerts: raised once per open problem, sent to webhooks and MQTT after commit."""
