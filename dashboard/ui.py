"""What every page shares: the settings, the service check with its banner, the reviewer's identity, the
ratings store and the case under review (kept in the session between pages)."""

import streamlit as st

from dashboard.connection import ServiceProblem, probe
from dashboard.ratings import RatingStore
from dashboard.settings import DashboardSettings

CASE_KEY = "case"
REVIEWER_KEY = "reviewer"


def settings() -> DashboardSettings:
    return DashboardSettings.from_env()


def banner(message: str, key: str = "retry") -> None:
    """A problem as a red banner with a retry button; the page stops here."""
    st.error(message, icon=":material/error:")
    st.button("Retry", key=key, type="primary")  # any click reruns the page
    st.stop()


def served_models(config: DashboardSettings):
    """The model versions the service explains, or a banner saying which part is down."""
    try:
        return probe(config)
    except ServiceProblem as exc:
        banner(str(exc))


def oidc_configured() -> bool:
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def reviewer() -> str | None:
    """The reviewer's identity, in the sidebar of every page: the OIDC login when configured (st.login), else
    a name typed once per session, with a warning that it is not verified."""
    with st.sidebar:
        if oidc_configured():
            if not st.user.is_logged_in:
                st.button("Log in", on_click=st.login)
                return None
            st.caption(f"Signed in as {st.user.get('email') or st.user.get('name')}")
            st.button("Log out", on_click=st.logout)
            return str(st.user.get("email") or st.user.get("name"))
        name = st.text_input("Reviewer name", value=st.session_state.get(REVIEWER_KEY, ""), key="reviewer_name")
        st.warning("Identity not verified: the name is typed, not signed in.", icon=":material/warning:")
        st.session_state[REVIEWER_KEY] = name.strip()  # kept when another page is opened
        return name.strip() or None


@st.cache_resource
def _store(path: str) -> RatingStore:
    return RatingStore(path)


def ratings_store(config: DashboardSettings) -> RatingStore:
    return _store(str(config.ratings_db))
