"""The medxai dashboard (`medxai dashboard`, or `streamlit run dashboard/app.py` with MEDXAI_DASHBOARD_*
variables): case review, trust ratings, agreement report, monitoring, models."""

import streamlit as st

from dashboard.ui import reviewer

st.set_page_config(page_title="medxai review", page_icon="🩻", layout="wide")
pages = [st.Page("pages/review.py", title="Case review", icon="🔎", default=True),
         st.Page("pages/rating.py", title="Rating", icon="⭐"),
         st.Page("pages/report.py", title="Report", icon="📊"),
         st.Page("pages/monitoring.py", title="Monitoring", icon="📈"),
         st.Page("pages/models.py", title="Models", icon="🧠")]
page = st.navigation(pages)
st.session_state["reviewer"] = reviewer()
page.run()
