"""Monitoring: request rate, error ratio, latency per stage, Triton's queue and compute time per model
version, over time. From Prometheus when `--prometheus` is given, else from the /metrics endpoints, scraped
every few seconds while the page is open and kept for the session."""

import streamlit as st

from dashboard.monitoring import latency_since_start, prometheus_panels, scrape, scraped_panels
from dashboard.ui import banner, reviewer, settings

REFRESH_S = 5
KEPT_SNAPSHOTS = 720

config = settings()
reviewer()
st.title("Monitoring")


def charts(panels) -> None:
    for panel, frame in panels.items():
        st.markdown(f"**{panel}**")
        if frame.empty:
            st.caption("no data yet")
        else:
            st.line_chart(frame.pivot_table(index="time", columns="series", values="value"))


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    if config.prometheus:
        try:
            panels = prometheus_panels(config.prometheus)
        except OSError as exc:
            banner(f"Prometheus at {config.prometheus} cannot be reached ({exc}).", key="retry_prometheus")
        st.caption(f"From Prometheus at {config.prometheus}, last 30 minutes.")
        charts(panels)
        return
    snapshot, failures = scrape(config.metrics_urls())
    for name, reason in failures.items():
        st.warning(f"The {name} metrics cannot be read: {reason}", icon=":material/warning:")
    snapshots = st.session_state.setdefault("snapshots", [])
    snapshots.append(snapshot)
    del snapshots[:-KEPT_SNAPSHOTS]
    st.caption(f"Scraped every {REFRESH_S} s from {', '.join(config.metrics_urls().values())}; "
               f"{len(snapshots)} scrapes this session.")
    st.markdown("**Latency per stage since the service started (s)**")
    st.dataframe(latency_since_start(snapshot), hide_index=True)
    charts(scraped_panels(snapshots))


live()
