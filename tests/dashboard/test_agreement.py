"""Agreement statistics against values worked out by hand (the arithmetic is in the comments)."""

import math

import numpy as np
import pandas as pd
import pytest

from dashboard.agreement import counts, ordinal_alpha, pairwise_kappa, trust_scores


def ratings_from(table: dict[str, list[float]], method: str = "fusion") -> pd.DataFrame:
    """Reviewer -> scores per case (NaN: not rated) as rating rows."""
    rows = [{"reviewer": reviewer, "case_id": f"case{i}", "dataset": "phantoms", "model": "m", "model_version": "1",
             "method": method, "score": int(score), "misleading": 0}
            for reviewer, scores in table.items() for i, score in enumerate(scores) if not math.isnan(score)]
    return pd.DataFrame(rows)


def test_quadratic_kappa_of_two_reviewers():
    # A = 1 2 3 4, B = 1 2 4 4, weights (i-j)^2 (the 1/16 of labels 1-5 cancels).
    # observed: (0 + 0 + 1 + 0) / 4 = 1/4; expected: sum over all A x B pairs of (a-b)^2 / 16
    # = (19 + 9 + 7 + 13) / 16 = 3; kappa = 1 - (1/4) / 3 = 11/12.
    kappa = pairwise_kappa(ratings_from({"A": [1, 2, 3, 4], "B": [1, 2, 4, 4]}))
    assert kappa.to_dict("records") == [{"reviewer_a": "A", "reviewer_b": "B", "items": 4,
                                         "kappa": pytest.approx(11 / 12)}]


NAN = float("nan")
WITH_GAPS = {"R1": [1, 1, 3, NAN], "R2": [1, 2, 3, 5], "R3": [NAN, 1, 5, 5]}


def test_pairwise_kappa_uses_the_items_both_rated():
    # R1-R2 on cases 0-2: (1,1) (1,2) (3,3): observed 1/3, expected (5 + 5 + 5)/9: 1 - 0.2 = 0.8
    # R1-R3 on cases 1-2: (1,1) (3,5): observed 4/2 = 2, expected (16 + 8)/4 = 6: 1 - 1/3 = 2/3
    # R2-R3 on cases 1-3: (2,1) (3,5) (5,5): observed 5/3, expected (19 + 12 + 16)/9 = 47/9: 1 - 15/47
    kappa = pairwise_kappa(ratings_from(WITH_GAPS)).set_index(["reviewer_a", "reviewer_b"])
    assert kappa.loc[("R1", "R2"), "kappa"] == pytest.approx(0.8)
    assert kappa.loc[("R1", "R3"), "kappa"] == pytest.approx(2 / 3)
    assert kappa.loc[("R2", "R3"), "kappa"] == pytest.approx(32 / 47)
    assert kappa["items"].tolist() == [3, 2, 3]


def test_ordinal_alpha_with_missing_ratings():
    # Coincidences (each unit's ordered pairs weighted 1/(m-1)): o11 = 3, o12 = o21 = 1, o33 = 1, o35 = o53 = 1,
    # o55 = 2; value counts n1..n5 = 4, 1, 2, 0, 3 (n = 10). Ordinal distance
    # delta(c,k) = sum_{g=c..k} n_g - (n_c + n_k)/2: delta^2(1,2) = 6.25, (1,3) = 16, (1,5) = 42.25, (2,3) = 2.25,
    # (2,5) = 16, (3,5) = 6.25. D_o = (2*6.25 + 2*6.25)/10 = 2.5;
    # D_e = 2 * (4*1*6.25 + 4*2*16 + 4*3*42.25 + 1*2*2.25 + 1*3*16 + 2*3*6.25) / (10*9) = 1500/90;
    # alpha = 1 - 2.5 * 90 / 1500 = 0.85. (At the interval level the same table gives 0.840.)
    assert ordinal_alpha(ratings_from(WITH_GAPS)) == pytest.approx(0.85)


def test_alpha_needs_two_reviewers():
    assert math.isnan(ordinal_alpha(ratings_from({"A": [1, 2, 3]})))


def test_trust_scores_in_the_form_of_table_7():
    # Reviewer means 4.2, 4.5, 13/3; their mean 4.3444, SD (n-1) sqrt(((-0.1444)^2 + 0.1556^2 + (-0.0111)^2)/2)
    ratings = ratings_from({"E1": [4, 4, 5, 4, 4], "E2": [5, 4, NAN, NAN, NAN], "E3": [4, 5, 4, NAN, NAN]})
    row = trust_scores(ratings).iloc[0]
    assert (row["E1"], row["E2"], row["E3"]) == (pytest.approx(4.2), pytest.approx(4.5), pytest.approx(13 / 3))
    assert row["mean"] == pytest.approx((4.2 + 4.5 + 13 / 3) / 3)
    assert row["sd"] == pytest.approx(np.std([4.2, 4.5, 13 / 3], ddof=1))
    assert (row["cases"], row["ratings"]) == (5, 10)
    assert counts(ratings) == {"cases": 5, "reviewers": 3, "ratings": 10}
