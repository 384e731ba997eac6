"""The medxai dashboard (`medxai dashboard`, or `streamlit run dashboard/app.py` with MEDXAI_DASHBOARD_*
variables): case review, trust ratings, agreement report, monitoring, models. Icons are Material Symbols,
which Streamlit serves itself (emoji need fonts an air-gapped workstation may lack)."""

import streamlit as st

st.set_page_config(page_title="medxai review", page_icon=":material/radiology:", layout="wide")
pages = [st.Page("pages/review.py", title="Case review", icon=":material/search:", default=True),
         st.Page("pages/rating.py", title="Rating", icon=":material/star:"),
         st.Page("pages/report.py", title="Report", icon=":material/table_chart:"),
         st.Page("pages/monitoring.py", title="Monitoring", icon=":material/monitoring:"),
         st.Page("pages/models.py", title="Models", icon=":material/deployed_code:")]
st.navigation(pages).run()
