"""The Report page's statistics: Human Trust Score per dataset, model version and method in the form of the
paper's Table 7 (each reviewer's mean, then mean ± SD over reviewers), and inter-rater agreement:
quadratic-weighted Cohen's kappa for each pair of reviewers and Krippendorff's alpha (ordinal) across all.

An item is one map of one case under one model version: (dataset, case, model, version, method).
"""

from itertools import combinations

import krippendorff
import pandas as pd
from sklearn.metrics import cohen_kappa_score

SCORES = [1, 2, 3, 4, 5]
ITEM = ["dataset", "case_id", "model", "model_version", "method"]
GROUP = ["dataset", "model", "model_version", "method"]


def score_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """Items x reviewers, NaN where a reviewer did not rate an item (one rating per reviewer and item)."""
    return ratings.pivot_table(index=ITEM, columns="reviewer", values="score", aggfunc="last")


def pairwise_kappa(ratings: pd.DataFrame) -> pd.DataFrame:
    """Quadratic-weighted Cohen's kappa for every pair of reviewers over the items both rated."""
    table = score_table(ratings)
    rows = []
    for first, second in combinations(table.columns, 2):
        both = table[[first, second]].dropna()
        kappa = cohen_kappa_score(both[first].astype(int), both[second].astype(int), labels=SCORES,
                                  weights="quadratic") if len(both) >= 2 else float("nan")
        rows.append({"reviewer_a": first, "reviewer_b": second, "items": len(both), "kappa": kappa})
    return pd.DataFrame(rows, columns=["reviewer_a", "reviewer_b", "items", "kappa"])


def ordinal_alpha(ratings: pd.DataFrame) -> float:
    """Krippendorff's alpha at the ordinal level across all reviewers, missing ratings allowed (NaN when there
    are fewer than two reviewers or no item rated twice)."""
    table = score_table(ratings)
    if table.shape[1] < 2 or not (table.notna().sum(axis=1) >= 2).any():
        return float("nan")
    return float(krippendorff.alpha(reliability_data=table.T.to_numpy(dtype=float), value_domain=SCORES,
                                    level_of_measurement="ordinal"))


def trust_scores(ratings: pd.DataFrame) -> pd.DataFrame:
    """Table 7: per dataset, model version and method, each reviewer's mean score, the mean ± SD of those
    means (SD over reviewers, n-1), and counts."""
    per_reviewer = ratings.pivot_table(index=GROUP, columns="reviewer", values="score", aggfunc="mean")
    reviewer_names = list(per_reviewer.columns)
    table = per_reviewer.copy()
    table["mean"] = per_reviewer.mean(axis=1)
    table["sd"] = per_reviewer.std(axis=1, ddof=1)
    grouped = ratings.groupby(GROUP)
    table["cases"] = grouped["case_id"].nunique()
    table["ratings"] = grouped.size()
    table["misleading"] = grouped["misleading"].mean()
    table.columns.name = None
    return table.reset_index()[GROUP + reviewer_names + ["mean", "sd", "cases", "ratings", "misleading"]]


def counts(ratings: pd.DataFrame) -> dict[str, int]:
    return {"cases": int(ratings["case_id"].nunique()), "reviewers": int(ratings["reviewer"].nunique()),
            "ratings": len(ratings)}
