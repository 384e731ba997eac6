"""The Streamlit dashboard: case review, clinician trust ratings, agreement report, monitoring, models."""
