"""Between companies: signed model packages, share grants, KPI reports, federated rounds."""
