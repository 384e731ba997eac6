"""Case review: pick or upload an image, see the prediction and the maps as they stream in (the
class-activation map first), blended on the image (a dead map is not drawn: the page says that the method found
no positive evidence), with each map's reliability hints and, where the expert marked the lesion,
its outline, IoU and pointing-game hit; deletion and insertion curves on demand."""

import pandas as pd
import streamlit as st

from dashboard.case import METHOD_NAMES, Case
from dashboard.connection import Predictor, ServiceProblem, explain_stream
from dashboard.imaging import FILE_WINDOW, WINDOW_PRESETS, blend, faithfulness_curves, load_picture, \
    localisation_scores, windowed
from dashboard.provenance import read_provenance, sanity_result
from dashboard.ui import CASE_KEY, banner, reviewer, served_models, settings
from dashboard import pacs_worklist
from dashboard.worklist import read_worklist
from medxai.data.decode import FORMAT_LIST, SUFFIXES
from medxai.errors import UserError

METHODS = list(METHOD_NAMES)
UPLOAD_TYPES = [suffix.lstrip(".") for suffix in SUFFIXES]

config = settings()
reviewer()
st.title("Case review")
models = served_models(config)
versions = [model.version for model in models]


def pacs_case() -> Case | None:
    """A study of the PACS, then one of its images; shows what medxai already stored for that image."""
    found = pacs_worklist.studies(config)
    if not found:
        st.info(f"The PACS at {config.pacs} holds no study.")
        return None
    titles = [study.title for study in found]
    study = found[titles.index(st.selectbox("Study", titles, key="pacs_study"))]
    study_images = pacs_worklist.images(config, study.study_uid)
    if not study_images:
        st.info("This study holds no image medxai can explain.")
        return None
    titles = [image.title for image in study_images]
    image = study_images[titles.index(st.selectbox("Image", titles, key="pacs_image"))]
    stored = pacs_worklist.stored_results(config, image)
    with st.expander("Results stored in the PACS", expanded=stored is not None):
        if stored is None and image.not_explained:
            st.warning(f"Not explained: {image.not_explained}")
        elif stored is None:
            st.caption("None yet: `medxai pacs explain` or the PACS gateway writes them.")
        elif not stored.probabilities:
            st.error("The stored report says: not assessed, outside the model's intended use.")
        else:
            st.caption(" · ".join(stored.software_versions))
            st.dataframe(pd.DataFrame({"class": list(stored.probabilities),
                                       "probability": list(stored.probabilities.values())}), hide_index=True)
            if stored.overlay is not None:
                st.image(stored.overlay, caption="Secondary Capture stored in the PACS", width=320)
    return Case(load_picture(pacs_worklist.image_bytes(config, image)), dataset="pacs")


def chosen_case() -> Case | None:
    """The case the reviewer picked: an uploaded file, an item of the worklist folder, or an image of the PACS."""
    sources = ["Upload"] + (["Worklist"] if config.worklist else []) + (["PACS"] if config.pacs else [])
    source = st.radio("Image", sources, horizontal=True, key="source") if len(sources) > 1 else "Upload"
    try:
        if source == "Upload":
            upload = st.file_uploader(FORMAT_LIST, type=UPLOAD_TYPES, key="upload")
            return Case(load_picture(upload.getvalue()), dataset="upload") if upload else None
        if source == "PACS":
            return pacs_case()
        dataset, items = read_worklist(config.worklist)
        titles = [entry.title for entry in items]
        item = items[titles.index(st.selectbox("Case", titles, key="worklist_item"))]
        picture = load_picture(item.image.read_bytes())
        return Case(picture, dataset, item.diagnosis, item.localisation(picture.pixels.shape))
    except UserError as exc:
        st.error(f"This image cannot be used: {exc}")
        return None


def hints(case: Case, method: str) -> list[str]:
    """Reliability hints shown under a map."""
    found = case.maps[method]
    lines = [f"{found.seconds:.2f} s"]
    if "completeness_gap" in found.diagnostics:
        lines.append(f"IG completeness gap {100 * found.diagnostics['completeness_gap']:.1f} % "
                     f"({int(found.diagnostics.get('steps', 0))} steps)")
    if "completeness_gap" in found.undefined:
        lines.append(f"IG completeness gap undefined: {found.undefined['completeness_gap']}")
    if "r2" in found.diagnostics:
        lines.append(f"LIME surrogate R² {found.diagnostics['r2']:.2f} ({int(found.diagnostics.get('samples', 0))} "
                     f"samples)")
    if "r2" in found.undefined:
        lines.append(f"LIME surrogate R² undefined: {found.undefined['r2']}")
    if found.dead:
        lines.insert(0, "no positive evidence: this method found nothing that raises the score at its layer, so "
                        "there is no map to show")
    if "relu_removed" in found.diagnostics and not found.dead:
        lines.append(f"{100 * found.diagnostics['relu_removed']:.0f} % of its evidence was negative (not drawn)")
    weights = {name.removeprefix("weight_"): value for name, value in found.diagnostics.items()
               if name.startswith("weight_")}
    if weights:
        lines.append("fused from " + ", ".join(f"{METHOD_NAMES.get(name, name)} {value:.2f}"
                                               for name, value in weights.items()))
    if method == "cam":
        provenance = read_provenance(config.model_repository, case.model["name"], case.model["version"])
        lines.append(f"sanity check of v{case.model['version']}: {sanity_result(provenance)}")
    if case.mask is not None:
        scores = localisation_scores(found.values, case.mask)
        lines.append(f"IoU {scores['iou']:.2f} · pointing game {'hit' if scores['pointing_game'] >= 0.5 else 'miss'}")
    return lines


def show_maps(area, case: Case, shown: list[str], opacity: float, image) -> None:
    """The image and each map that has arrived, side by side."""
    with area.container():
        ready = [method for method in shown if method in case.maps]
        columns = st.columns(1 + max(len(ready), 1))
        columns[0].image(blend(image, None, opacity, case.mask), caption="image" +
                         (" (expert outline in green)" if case.mask is not None else ""))
        for column, method in zip(columns[1:], ready):
            found = case.maps[method]
            column.image(blend(image, None if found.dead else found.values, opacity, case.mask),
                         caption=f"{METHOD_NAMES[method]}: no positive evidence" if found.dead
                         else f"{METHOD_NAMES[method]} overlay")
            column.caption(" · ".join(hints(case, method)))


def show_prediction(case: Case) -> None:
    """The answer, under a banner when the image is outside the model's intended use (then no answer at all) or
    when the prediction set holds several classes (refer)."""
    if case.out_of_scope:
        st.error(f"**Not assessed: {case.scope['reason']}.** This model is for "
                 f"{case.scope.get('intended_use') or 'other images'}; no diagnosis and no heat map are given.")
        return
    if case.scope.get("research_only"):
        st.warning("**Research only: outside the model's intended use** "
                   f"({case.scope['reason'].split('(', 1)[-1].rstrip(')')}). Not for diagnosis.")
    elif case.scope.get("refer"):
        st.warning(f"**{case.scope['refer'][0].upper()}{case.scope['refer'][1:]}** (conformal prediction set: "
                   f"{', '.join(case.scope['prediction_set'])}).")
    if not case.probabilities:
        return
    left, right = st.columns([1, 2])
    left.metric("Prediction", case.predicted, f"{100 * case.probabilities[case.predicted]:.1f} %",
                delta_color="off")
    left.caption(f"model {case.model['name']} v{case.model['version']}" +
                 (f" · expert label: {case.expert_label}" if case.expert_label else ""))
    right.dataframe(pd.DataFrame({"class": list(case.probabilities),
                                  "probability": list(case.probabilities.values())}),
                    hide_index=True, column_config={"probability": st.column_config.ProgressColumn(
                        "probability", min_value=0.0, max_value=1.0, format="%.3f")})


def show_curves(case: Case, shown: list[str]) -> None:
    if st.button("Plot deletion and insertion curves", key="curves"):
        with Predictor(config, case.model["version"]) as predictor, st.spinner("Classifying perturbed images..."):
            for method in shown:
                if method not in case.curves:
                    case.curves[method] = faithfulness_curves(case.picture, case.maps[method].values, case.target,
                                                              case.model["image_size"], predictor)
    drawn = [method for method in shown if method in case.curves]
    if not drawn:
        return
    for column, mode in zip(st.columns(2), ("deletion", "insertion")):
        frame = pd.DataFrame({f"{METHOD_NAMES[m]} (AUC {case.curves[m][mode][1]:.3f})": case.curves[m][mode][0]
                              for m in drawn})
        frame.index = frame.index / (len(frame) - 1)
        frame.index.name = "fraction of pixels " + ("removed" if mode == "deletion" else "inserted")
        column.caption(f"{mode} ({'lower' if mode == 'deletion' else 'higher'} area is better)")
        column.line_chart(frame, x_label=frame.index.name, y_label="probability of the explained class")


case = chosen_case()
controls = st.columns([2, 1, 1, 1])
shown = controls[0].multiselect("Methods", METHODS, default=METHODS, format_func=METHOD_NAMES.get, key="methods")
opacity = controls[1].slider("Opacity", 0.0, 1.0, 0.45, 0.05, key="opacity")
version = controls[2].selectbox("Model version", versions, index=len(versions) - 1, key="version")
window = FILE_WINDOW
if case is not None and case.picture.windows:
    window = controls[3].selectbox("Window", [FILE_WINDOW, *WINDOW_PRESETS], key="window",
                                   format_func=lambda name: name if name == FILE_WINDOW else
                                   f"{name} ({WINDOW_PRESETS[name][0]}/{WINDOW_PRESETS[name][1]})")

research = st.sidebar.checkbox("Explain images outside the model's intended use (research only)", key="research",
                               help="Such an image gets no diagnosis and no heat map by default; this asks for "
                                    "them anyway, marked research only.")
if case is None:
    st.info("Upload an image or pick a case from the worklist.")
    st.stop()
case.requested_version = version
case.research = research
stored = st.session_state.get(CASE_KEY)
if stored is not None and stored.key == case.key and stored.complete:
    case = stored
image = windowed(case.picture, window)
for note in case.picture.notes:
    st.warning(note)
prediction_area, progress_area, maps_area = st.empty(), st.empty(), st.empty()
if not case.complete:
    st.session_state[CASE_KEY] = case
    try:
        for event in explain_stream(config, case.picture.data, METHODS, version, case.research):
            case.add_event(event)
            with prediction_area.container():
                show_prediction(case)
            waiting = [METHOD_NAMES[method] for method in METHODS if method not in case.maps]
            progress_area.caption("waiting for: " + ", ".join(waiting) if waiting else "")
            show_maps(maps_area, case, shown, opacity, image)
    except ServiceProblem as exc:
        banner(str(exc), key="retry_explain")
    case.complete = True
    progress_area.empty()
with prediction_area.container():
    show_prediction(case)
show_maps(maps_area, case, shown, opacity, image)
if not case.out_of_scope:
    show_curves(case, shown)
