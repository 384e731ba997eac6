"""A Comprehensive SR (PS3.3 A.35.3) holding a Measurement Report (TID 1500): the finding, every class probability,
the model's identity and the explanation's trust numbers, machine-readable, about one source image.

The report's one Measurement Group (TID 1501, measurements and qualitative evaluations about the image) has:
- the finding (DCM 121071 Finding) coded in medxai's private scheme 99MEDXAI (code value C<class index>);
- one Probability measurement per class, unit 1 (UCUM), in class order;
- the trust numbers, where the service sent them: IG completeness gap, LIME R²; and the release gate's
  model-randomisation sanity check of the served version (passed, failed or not known);
- the result objects that were not written and why (a source without plane geometry gets no Parametric Map).
The algorithm (TID 4019) names the model, its version and the checkpoint's SHA-256.
"""

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from pacs import provenance
from pacs.explanation import Explanation

SERIES_NUMBER = 9103
SCHEME = "99MEDXAI"
"""A private coding scheme (PS3.16 8.2: designators beginning with 99)."""
IMAGING = hd.sr.CodedConcept("363679005", "SCT", "Imaging")
PROBABILITY = "Probability of"
IG_GAP = hd.sr.CodedConcept("IGGAP", SCHEME, "Integrated Gradients completeness gap")
LIME_R2 = hd.sr.CodedConcept("LIMER2", SCHEME, "LIME surrogate R2")
NOT_WRITTEN = hd.sr.CodedConcept("NOTWRITTEN", SCHEME, "Result object not written")
NO_GEOMETRY = hd.sr.CodedConcept("NOGEOMETRY", SCHEME, "Parametric Map: source has no plane geometry")
SANITY = hd.sr.CodedConcept("SANITY", SCHEME, "Model randomisation sanity check")
SANITY_VALUES = {True: hd.sr.CodedConcept("PASSED", SCHEME, "Passed"),
                 False: hd.sr.CodedConcept("FAILED", SCHEME, "Failed"),
                 None: hd.sr.CodedConcept("UNKNOWN", SCHEME, "Not known (no release record)")}


def class_code(explanation: Explanation, name: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(f"C{explanation.class_names.index(name)}", SCHEME, name[:64])


def probability_code(explanation: Explanation, name: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(f"P{explanation.class_names.index(name)}", SCHEME, f"{PROBABILITY} {name}"[:64])


def structured_report(source: Dataset, explanation: Explanation, instance_number: int,
                      parametric_maps_written: bool, sanity_passed: bool | None = None) -> hd.sr.ComprehensiveSR:
    """The Measurement Report about `source`, in a series of the source's study."""
    unit = codes.UCUM.NoUnits
    algorithm = hd.sr.AlgorithmIdentification(
        name=f"medxai {explanation.model_name}"[:64], version=explanation.model_version[:64],
        parameters=[f"checkpoint sha256 {explanation.checkpoint_sha256}", f"target {explanation.target}"],
        manufacturer=provenance.MANUFACTURER)
    measurements = [hd.sr.Measurement(name=probability_code(explanation, name), value=float(probability), unit=unit,
                                      algorithm_id=algorithm)
                    for name, probability in explanation.probabilities.items()]
    for concept, value in ((IG_GAP, explanation.ig_completeness_gap), (LIME_R2, explanation.lime_r2)):
        if value is not None:
            measurements.append(hd.sr.Measurement(name=concept, value=float(value), unit=unit, algorithm_id=algorithm))
    evaluations = [hd.sr.QualitativeEvaluation(codes.DCM.Finding, class_code(explanation, explanation.predicted)),
                   hd.sr.QualitativeEvaluation(SANITY, SANITY_VALUES[sanity_passed])]
    if not parametric_maps_written:
        evaluations.append(hd.sr.QualitativeEvaluation(NOT_WRITTEN, NO_GEOMETRY))
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=provenance.result_uid(source, explanation, "tracking"), identifier="medxai explanation"),
        algorithm_id=algorithm, measurements=measurements, qualitative_evaluations=evaluations,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)])
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=provenance.result_uid(source, explanation, "device"), name="medxai",
            manufacturer_name=provenance.MANUFACTURER,
            model_name=f"{explanation.model_name} {explanation.model_version}"[:64],
            serial_number=provenance.device_serial_number(explanation)))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=IMAGING, imaging_measurements=[group])
    result = hd.sr.ComprehensiveSR(
        evidence=[source], content=report[0],
        series_instance_uid=provenance.result_series_uid(source, explanation, "structured-report"),
        series_number=SERIES_NUMBER, sop_instance_uid=provenance.result_uid(source, explanation, "structured-report"),
        instance_number=instance_number, manufacturer=provenance.MANUFACTURER, is_complete=True,
        series_description=f"medxai report ({explanation.model_version})"[:64])
    return provenance.stamp(result, explanation)


def read_probabilities(report: Dataset) -> dict[str, float]:
    """The class probabilities of a report written by `structured_report`, read back from its content tree."""
    found: dict[str, float] = {}

    def walk(items) -> None:
        for item in items:
            concept = item.ConceptNameCodeSequence[0] if "ConceptNameCodeSequence" in item else None
            if (item.get("ValueType") == "NUM" and concept is not None and concept.CodingSchemeDesignator == SCHEME
                    and concept.CodeMeaning.startswith(PROBABILITY)):
                found[concept.CodeMeaning[len(PROBABILITY) + 1:]] = float(item.MeasuredValueSequence[0].NumericValue)
            walk(item.get("ContentSequence", []))
    walk(report.ContentSequence)
    return found
