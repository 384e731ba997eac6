"""Models: the versions Triton serves that the explain service explains (ListModels), and for each what
its repository entry records: checkpoint, architecture, validation metrics, calibration, release-gate result."""

import pandas as pd
import streamlit as st

from dashboard.provenance import calibration_result, gate_result, read_provenance, sanity_result
from dashboard.ui import reviewer, served_models, settings

config = settings()
reviewer()
st.title("Models")
models = served_models(config)
st.dataframe(pd.DataFrame([{"model": m.name, "version": m.version, "classes": ", ".join(m.class_names),
                            "image size": m.image_size, "checkpoint SHA-256": m.checkpoint_sha256[:16]}
                           for m in models]), hide_index=True)
if config.model_repository is None:
    st.info("Start the dashboard with --model-repository (or --local-stack) to see each version's checkpoint "
            "metadata and release-gate result.")
for model in models:
    provenance = read_provenance(config.model_repository, model.name, model.version)
    if provenance is None:
        continue
    with st.expander(f"{model.name} v{model.version}", expanded=True):
        st.markdown(f"**Release gate:** {gate_result(provenance)}  \n"
                    f"**Sanity check:** {sanity_result(provenance)}  \n"
                    f"**Calibration:** {calibration_result(provenance)}  \n"
                    f"**Architecture:** {provenance.get('architecture', '?')} · "
                    f"**git commit:** {provenance.get('git_commit', '')[:12] or '?'}")
        metrics = {key: value for key, value in provenance.get("metrics", {}).items()
                   if isinstance(value, (int, float, str))}
        if metrics:
            st.dataframe(pd.DataFrame([metrics]), hide_index=True)
        st.json(provenance, expanded=False)
