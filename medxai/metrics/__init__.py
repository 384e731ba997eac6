"""Metrics: classification, localisation and faithfulness; each module declares HIGHER_IS_BETTER per metric."""
