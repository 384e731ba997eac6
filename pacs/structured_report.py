"""A Comprehensive SR (PS3.3 A.35.3) holding a Measurement Report (TID 1500): the finding, every class probability,
the model's identity and the explanation's trust numbers, machine-readable, about one source image.

The report's one Measurement Group (TID 1410, planar ROI measurements and qualitative evaluations) has:
- the image region the explanation points at (SCOORD on the source image: the outline of the fused map's
  half-maximum region around its peak, or the peak as a point; `region`), so that viewers that draw TID 1500
  reports (OHIF) list the finding and draw where it is;
- the finding (DCM 121071 Finding) coded in medxai's private scheme 99MEDXAI (code value C<class index>);
- one Probability measurement per class in percent (UCUM %), to 0.1 %, in class order;
- the trust numbers, where the service sent them, each with what it means: the IG completeness gap in percent
  and whether it is within the 5 % tolerance IG is run to; LIME's surrogate R² to 0.01; the release gate's
  model-randomisation sanity check of the served version (passed, failed or not known);
- the result objects that were not written and why (a source without plane geometry gets no Parametric Map);
- the conformal prediction set: one evaluation per class it holds ("refer" when there are several).
A source outside the model's intended use gets a report with one image-level group (TID 1501) instead: not
assessed, outside intended use, the OOD score and threshold when the score decided it; no finding, no
probabilities.
The group's algorithm (TID 4019, said once for every measurement in it) names the model, its version and the checkpoint's SHA-256. Every container is SEPARATE
(Continuity of Content, PS3.3 C.17.3.2.3): renderers such as DCMTK's dsr2html then name each value instead of
running them together as one sentence.
"""

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from pacs import provenance
from pacs.explanation import Explanation
from pacs.geometry import at_source_grid
from pacs.region import half_maximum_outline, peak

SERIES_NUMBER = 9103
SCHEME = "99MEDXAI"
"""A private coding scheme (PS3.16 8.2: designators beginning with 99)."""
IMAGING = hd.sr.CodedConcept("363679005", "SCT", "Imaging")
PROBABILITY = "Probability of"
IG_GAP = hd.sr.CodedConcept("IGGAP", SCHEME, "Integrated Gradients completeness gap")
IG_TOLERANCE = 0.05
"""The completeness gap IG is run to (medxai.explain.integrated_gradients: steps double until it is met)."""
IG_COMPLETENESS = hd.sr.CodedConcept("IGCOMPLETE", SCHEME, "Integrated Gradients completeness")
IG_VALUES = {True: hd.sr.CodedConcept("WITHINTOL", SCHEME, "Gap within the 5 % tolerance: attributions add up"),
             False: hd.sr.CodedConcept("OVERTOL", SCHEME, "Gap over the 5 % tolerance: IG map less reliable")}
LIME_R2 = hd.sr.CodedConcept("LIMER2", SCHEME, "LIME surrogate R2 (0-1: how well LIME fits the model)")
NOT_WRITTEN = hd.sr.CodedConcept("NOTWRITTEN", SCHEME, "Result object not written")
NO_GEOMETRY = hd.sr.CodedConcept("NOGEOMETRY", SCHEME, "Parametric Map: source has no plane geometry")
SANITY = hd.sr.CodedConcept("SANITY", SCHEME, "Model randomisation sanity check")
PREDICTION_SET = hd.sr.CodedConcept("PREDSET", SCHEME, "In the conformal prediction set")
REFER = hd.sr.CodedConcept("REFER", SCHEME, "Refer: the model cannot separate the set's classes")
ASSESSMENT = hd.sr.CodedConcept("ASSESSED", SCHEME, "AI assessment")
NOT_ASSESSED = hd.sr.CodedConcept("OUTOFSCOPE", SCHEME, "Not assessed: outside intended use")
NOT_ASSESSED_BY_USE = hd.sr.CodedConcept("USEREFUSED", SCHEME, "DICOM tags or colour contradict intended use")
OOD_SCORE = hd.sr.CodedConcept("OODSCORE", SCHEME, "Out-of-distribution score")
OOD_THRESHOLD = hd.sr.CodedConcept("OODTHRESH", SCHEME, "Out-of-distribution threshold")
SANITY_VALUES = {True: hd.sr.CodedConcept("PASSED", SCHEME, "Passed"),
                 False: hd.sr.CodedConcept("FAILED", SCHEME, "Failed"),
                 None: hd.sr.CodedConcept("UNKNOWN", SCHEME, "Not known (no release record)")}


def class_code(explanation: Explanation, name: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(f"C{explanation.class_names.index(name)}", SCHEME, name[:64])


def probability_code(explanation: Explanation, name: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(f"P{explanation.class_names.index(name)}", SCHEME, f"{PROBABILITY} {name}"[:64])


def structured_report(source: Dataset, explanations: list[Explanation], instance_number: int,
                      parametric_maps_written: bool, sanity_passed: bool | None = None,
                      frames: list[Dataset] | None = None) -> hd.sr.ComprehensiveSR:
    """The Measurement Report about `source`, in a series of the source's study: one measurement group per
    explanation, that is one for a single-frame image and one per frame of a multi-frame one (`frames`: each frame
    as a single-frame image, `frames.frame_images`; each group's region then references its frame)."""
    explanation = explanations[0]
    algorithm = hd.sr.AlgorithmIdentification(
        name=f"medxai {explanation.model_name}"[:64], version=explanation.model_version[:64],
        parameters=[f"checkpoint sha256 {explanation.checkpoint_sha256}"]
        + ([f"target {explanation.target}"] if len({e.target for e in explanations}) == 1 else []),
        manufacturer=provenance.MANUFACTURER)
    if not all(each.in_scope for each in explanations):
        groups = [not_assessed_group(source, next(e for e in explanations if not e.in_scope), algorithm)]
    else:
        groups = [measurement_group(source, each, algorithm, parametric_maps_written, sanity_passed,
                                    (index + 1, frames[index]) if frames else None)
                  for index, each in enumerate(explanations)]
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=provenance.result_uid(source, explanation, "device"), name="medxai",
            manufacturer_name=provenance.MANUFACTURER,
            model_name=f"{explanation.model_name} {explanation.model_version}"[:64],
            serial_number=provenance.device_serial_number(explanation)))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=IMAGING, imaging_measurements=groups)
    result = hd.sr.ComprehensiveSR(
        evidence=[source], content=report[0],
        series_instance_uid=provenance.result_series_uid(source, explanation, "structured-report"),
        series_number=SERIES_NUMBER, sop_instance_uid=provenance.result_uid(source, explanation, "structured-report"),
        instance_number=instance_number, manufacturer=provenance.MANUFACTURER, is_complete=True,
        series_description="medxai report")
    for item in result.iterall():
        if item.keyword == "ContinuityOfContent":
            item.value = "SEPARATE"
    provenance.describe_series(result, source, "report")
    return provenance.stamp(result, explanation)


def measurement_group(source: Dataset, explanation: Explanation, algorithm: hd.sr.AlgorithmIdentification,
                      parametric_maps_written: bool, sanity_passed: bool | None,
                      frame: tuple[int, Dataset] | None = None) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    """One explained image or frame (`frame`: its number from 1 and the frame as a single-frame image): region,
    finding, probabilities, trust numbers."""
    unit, percent = codes.UCUM.NoUnits, codes.UCUM.Percent
    measurements = [hd.sr.Measurement(name=probability_code(explanation, name), value=round(100 * float(probability), 1),
                                      unit=percent)
                    for name, probability in explanation.probabilities.items()]
    evaluations = [hd.sr.QualitativeEvaluation(SANITY, SANITY_VALUES[sanity_passed])]
    if (gap := explanation.ig_completeness_gap) is not None:
        measurements.append(hd.sr.Measurement(name=IG_GAP, value=round(100 * float(gap), 1), unit=percent))
        evaluations.append(hd.sr.QualitativeEvaluation(IG_COMPLETENESS, IG_VALUES[float(gap) <= IG_TOLERANCE]))
    if (r2 := explanation.lime_r2) is not None:
        measurements.append(hd.sr.Measurement(name=LIME_R2, value=round(float(r2), 2), unit=unit))
    if not parametric_maps_written:
        evaluations.append(hd.sr.QualitativeEvaluation(NOT_WRITTEN, NO_GEOMETRY))
    evaluations += [hd.sr.QualitativeEvaluation(PREDICTION_SET, class_code(explanation, name))
                    for name in explanation.prediction_set]
    if len(explanation.prediction_set) > 1:
        evaluations.append(hd.sr.QualitativeEvaluation(ASSESSMENT, REFER))
    tracking = "tracking" if frame is None else f"tracking/frame {frame[0]}"
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=provenance.result_uid(source, explanation, tracking),
            identifier="medxai explanation" + (f", frame {frame[0]}" if frame else "")),
        referenced_region=region(source, explanation, frame),
        finding_type=class_code(explanation, explanation.predicted),
        algorithm_id=algorithm, measurements=measurements, qualitative_evaluations=evaluations)


def not_assessed_group(source: Dataset, explanation: Explanation, algorithm: hd.sr.AlgorithmIdentification
                       ) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """The image-level group (TID 1501) of a source outside the model's intended use: why, in codes and numbers
    (the OOD score and its threshold when the score decided it; otherwise the intended use refused it)."""
    by_score = explanation.ood_score is not None and explanation.ood_threshold is not None \
        and explanation.ood_score > explanation.ood_threshold
    measurements = [] if not by_score else [
        hd.sr.Measurement(name=OOD_SCORE, value=round(explanation.ood_score, 1), unit=codes.UCUM.NoUnits),
        hd.sr.Measurement(name=OOD_THRESHOLD, value=round(explanation.ood_threshold, 1), unit=codes.UCUM.NoUnits)]
    evaluations = [hd.sr.QualitativeEvaluation(ASSESSMENT, NOT_ASSESSED)]
    if not by_score:
        evaluations.append(hd.sr.QualitativeEvaluation(NOT_ASSESSED, NOT_ASSESSED_BY_USE))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=provenance.result_uid(source, explanation, "tracking"),
                                                     identifier="medxai: not assessed"),
        algorithm_id=algorithm, measurements=measurements or None, qualitative_evaluations=evaluations)


def region(source: Dataset, explanation: Explanation, frame: tuple[int, Dataset] | None = None) -> hd.sr.ImageRegion:
    """Where the fused map (or the last map sent) points on the source image (on frame `frame[0]` of a multi-frame
    one): its half-maximum outline as a closed POLYLINE (PS3.3 C.18.6.1.1: first and last point the same), or its
    peak as a POINT (`pacs.region`)."""
    method = "fusion" if "fusion" in explanation.maps else list(explanation.maps)[-1]
    saliency = at_source_grid(explanation.maps[method], source)
    outline = half_maximum_outline(saliency)
    graphic = (hd.sr.GraphicTypeValues.POLYLINE, outline) if outline is not None else \
        (hd.sr.GraphicTypeValues.POINT, peak(saliency))
    try:
        image = hd.sr.SourceImageForRegion.from_source_image(source, referenced_frame_numbers=[frame[0]] if frame
                                                             else None)
    except TypeError:  # highdicom: a single-frame SOP class holding several frames (old Secondary Captures)
        image = hd.sr.SourceImageForRegion.from_source_image(source)
    return hd.sr.ImageRegion(graphic_type=graphic[0], graphic_data=np.asarray(graphic[1], dtype=np.float32),
                             source_image=image)


def read_probabilities(report: Dataset) -> dict[str, float]:
    """The class probabilities (0 to 1) of a report written by `structured_report`, read back from its content tree
    (values in percent are divided by 100; reports written before the unit was percent hold fractions)."""
    found: dict[str, float] = {}

    def walk(items) -> None:
        for item in items:
            concept = item.ConceptNameCodeSequence[0] if "ConceptNameCodeSequence" in item else None
            if (item.get("ValueType") == "NUM" and concept is not None and concept.CodingSchemeDesignator == SCHEME
                    and concept.CodeMeaning.startswith(PROBABILITY)):
                measured = item.MeasuredValueSequence[0]
                scale = 100.0 if measured.MeasurementUnitsCodeSequence[0].CodeValue == "%" else 1.0
                found[concept.CodeMeaning[len(PROBABILITY) + 1:]] = float(measured.NumericValue) / scale
            walk(item.get("ContentSequence", []))
    walk(report.ContentSequence)
    return found
