"""Between companies: partners, grants, shared models, KPI reports, federated rounds, adaptation."""
