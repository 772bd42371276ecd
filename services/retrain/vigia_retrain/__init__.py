"""The retraining job, `vigia-retrain`: train a candidate, gate it, write it and say why."""
