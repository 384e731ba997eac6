"""Rating (the paper's Human Trust Score, §3.5, §4.3): the reviewer scores each map of the case under review
1-5 for how well it matches the diagnostically relevant region, may flag it misleading and comment. Blinded
mode hides the method names and shuffles their order. A rating acknowledged here is on disk."""

import random

import streamlit as st

from dashboard.case import METHOD_NAMES
from dashboard.imaging import blend
from dashboard.ratings import Rating
from dashboard.ui import CASE_KEY, ratings_store, reviewer, settings

SCORE_LABELS = {1: "1 poor", 2: "2", 3: "3", 4: "4", 5: "5 excellent"}

config = settings()
st.title("Rating")
rater = reviewer()
case = st.session_state.get(CASE_KEY)
if not rater:
    st.info("Enter your reviewer name in the sidebar (or log in) to rate.")
    st.stop()
if case is None or not case.complete:
    st.info("Open a case in Case review first; its maps are rated here.")
    st.page_link("pages/review.py", label="Case review", icon=":material/search:")
    st.stop()

blinded = st.toggle("Blinded: hide method names and shuffle their order", key="blinded")
opacity = st.slider("Opacity", 0.0, 1.0, 0.45, 0.05, key="rating_opacity")
order = list(METHOD_NAMES)  # one order for every case (the fused map last), whatever order the maps streamed in
methods = sorted(case.maps, key=lambda name: order.index(name) if name in order else len(order))
if blinded:  # the same order for this reviewer and case on every rerun
    random.Random(f"{rater}/{case.picture.case_id}").shuffle(methods)
st.caption(f"Case {case.picture.case_id[:12]} · {case.dataset} · model {case.model['name']} "
           f"v{case.model['version']} · prediction {case.predicted}" +
           ("" if blinded or not case.expert_label else f" · expert label {case.expert_label}"))
store = ratings_store(config)
acknowledged = st.session_state.setdefault("acknowledged", {})

for column, (position, method) in zip(st.columns(len(methods)), enumerate(methods)):
    label = f"Map {chr(ord('A') + position)}" if blinded else METHOD_NAMES.get(method, method)
    key = f"{case.picture.case_id}/{case.model['version']}/{method}"
    with column:
        found = case.maps[method]
        st.image(blend(case.picture.pixels, None if found.dead else found.values, opacity, case.mask),
                 caption=f"{label}: no positive evidence" if found.dead else label)
        with st.form(f"form/{key}"):
            score = st.radio("How well does it match the relevant region?", list(SCORE_LABELS), index=None,
                             format_func=SCORE_LABELS.get, horizontal=True, key=f"score/{method}")
            misleading = st.checkbox("Misleading", key=f"misleading/{method}")
            comment = st.text_input("Comment", key=f"comment/{method}")
            if st.form_submit_button("Save rating", key=f"save/{method}"):
                if score is None:
                    st.warning("Choose a score from 1 to 5 first.")
                else:
                    acknowledged[key] = store.add(Rating(
                        reviewer=rater, case_id=case.picture.case_id, dataset=case.dataset,
                        model=case.model["name"], model_version=case.model["version"], method=method, score=score,
                        misleading=misleading, comment=comment.strip(), blinded=blinded))
        if key in acknowledged:
            st.success(f"Saved (rating #{acknowledged[key]}).", icon=":material/check_circle:")
