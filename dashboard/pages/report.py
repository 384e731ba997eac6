"""Report: Human Trust Score per dataset, model version and method in the form of the paper's Table 7, and
inter-rater agreement (quadratic-weighted Cohen's kappa per pair, Krippendorff's alpha at the ordinal level);
a reviewer's latest rating of a map counts. The ratings can be exported as CSV."""

import math

import streamlit as st

from dashboard.agreement import counts, ordinal_alpha, pairwise_kappa, trust_scores
from dashboard.case import METHOD_NAMES
from dashboard.ratings import latest
from dashboard.ui import ratings_store, reviewer, settings

config = settings()
reviewer()
st.title("Report")
everything = ratings_store(config).frame()
if everything.empty:
    st.info(f"No ratings yet in {config.ratings_db}.")
    st.stop()
ratings = latest(everything)
for column, (name, value) in zip(st.columns(3), counts(ratings).items()):
    column.metric(name.capitalize(), value)

st.subheader("Human Trust Score (1-5)")
table = trust_scores(ratings)
table["method"] = table["method"].map(lambda method: METHOD_NAMES.get(method, method))
table["mean ± SD"] = [f"{mean:.2f} ± {sd:.2f}" if not math.isnan(sd) else f"{mean:.2f}"
                      for mean, sd in zip(table["mean"], table["sd"])]
st.dataframe(table.drop(columns=["mean", "sd"]), hide_index=True,
             column_config={"misleading": st.column_config.NumberColumn("flagged misleading", format="percent")})
st.caption("Each reviewer's mean score, then the mean and SD (n-1) of those means, as in the paper's Table 7.")

st.subheader("Inter-rater agreement")
alpha = ordinal_alpha(ratings)
st.metric("Krippendorff's alpha (ordinal, all reviewers)", "n/a" if math.isnan(alpha) else f"{alpha:.3f}")
kappa = pairwise_kappa(ratings)
if kappa.empty:
    st.caption("Cohen's kappa needs two reviewers.")
else:
    st.dataframe(kappa, hide_index=True, column_config={"kappa": st.column_config.NumberColumn(
        "Cohen's kappa (quadratic)", format="%.3f")})
st.caption("An item is one map of one case under one model version; kappa uses the items both reviewers rated.")

st.download_button("Download ratings (CSV)", everything.to_csv(index=False).encode(), file_name="ratings.csv",
                   mime="text/csv", key="csv")
