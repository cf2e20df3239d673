"""Visual inspection: backbones, anomaly detection, anomaly maps, thresholds, export."""
