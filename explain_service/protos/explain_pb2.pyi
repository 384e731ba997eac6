from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RawArray(_message.Message):
    __slots__ = ("data", "shape", "dtype")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    def __init__(self, data: _Optional[bytes] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("encoded", "array")
    ENCODED_FIELD_NUMBER: _ClassVar[int]
    ARRAY_FIELD_NUMBER: _ClassVar[int]
    encoded: bytes
    array: RawArray
    def __init__(self, encoded: _Optional[bytes] = ..., array: _Optional[_Union[RawArray, _Mapping]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("image", "model", "version", "allow_out_of_scope")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOW_OUT_OF_SCOPE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    model: str
    version: str
    allow_out_of_scope: bool
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., model: _Optional[str] = ..., version: _Optional[str] = ..., allow_out_of_scope: _Optional[bool] = ...) -> None: ...

class Scope(_message.Message):
    __slots__ = ("in_scope", "reason", "ood_score", "threshold", "prediction_set", "alpha", "refer", "research_only")
    IN_SCOPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OOD_SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_SET_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    REFER_FIELD_NUMBER: _ClassVar[int]
    RESEARCH_ONLY_FIELD_NUMBER: _ClassVar[int]
    in_scope: bool
    reason: str
    ood_score: float
    threshold: float
    prediction_set: _containers.RepeatedScalarFieldContainer[str]
    alpha: float
    refer: str
    research_only: bool
    def __init__(self, in_scope: _Optional[bool] = ..., reason: _Optional[str] = ..., ood_score: _Optional[float] = ..., threshold: _Optional[float] = ..., prediction_set: _Optional[_Iterable[str]] = ..., alpha: _Optional[float] = ..., refer: _Optional[str] = ..., research_only: _Optional[bool] = ...) -> None: ...

class ClassProbability(_message.Message):
    __slots__ = ("name", "probability")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    probability: float
    def __init__(self, name: _Optional[str] = ..., probability: _Optional[float] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ("probabilities", "predicted", "target", "input_warnings", "scope")
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    INPUT_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    probabilities: _containers.RepeatedCompositeFieldContainer[ClassProbability]
    predicted: int
    target: int
    input_warnings: _containers.RepeatedScalarFieldContainer[str]
    scope: Scope
    def __init__(self, probabilities: _Optional[_Iterable[_Union[ClassProbability, _Mapping]]] = ..., predicted: _Optional[int] = ..., target: _Optional[int] = ..., input_warnings: _Optional[_Iterable[str]] = ..., scope: _Optional[_Union[Scope, _Mapping]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "checkpoint_sha256", "class_names", "image_size", "intended_use")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SHA256_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    INTENDED_USE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    checkpoint_sha256: str
    class_names: _containers.RepeatedScalarFieldContainer[str]
    image_size: int
    intended_use: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., checkpoint_sha256: _Optional[str] = ..., class_names: _Optional[_Iterable[str]] = ..., image_size: _Optional[int] = ..., intended_use: _Optional[str] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("request_id", "prediction", "model", "seconds")
    class SecondsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    prediction: Prediction
    model: ModelInfo
    seconds: _containers.ScalarMap[str, float]
    def __init__(self, request_id: _Optional[str] = ..., prediction: _Optional[_Union[Prediction, _Mapping]] = ..., model: _Optional[_Union[ModelInfo, _Mapping]] = ..., seconds: _Optional[_Mapping[str, float]] = ...) -> None: ...

class IntegratedGradientsSettings(_message.Message):
    __slots__ = ("steps", "max_steps", "baseline")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    steps: int
    max_steps: int
    baseline: str
    def __init__(self, steps: _Optional[int] = ..., max_steps: _Optional[int] = ..., baseline: _Optional[str] = ...) -> None: ...

class LimeSettings(_message.Message):
    __slots__ = ("samples", "seed", "segmentation")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_FIELD_NUMBER: _ClassVar[int]
    samples: int
    seed: int
    segmentation: str
    def __init__(self, samples: _Optional[int] = ..., seed: _Optional[int] = ..., segmentation: _Optional[str] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("image", "model", "version", "target", "methods", "ig", "lime", "fusion_weights", "faithfulness", "overlays", "fusion_rule", "allow_out_of_scope")
    class FusionWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    IG_FIELD_NUMBER: _ClassVar[int]
    LIME_FIELD_NUMBER: _ClassVar[int]
    FUSION_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    FAITHFULNESS_FIELD_NUMBER: _ClassVar[int]
    OVERLAYS_FIELD_NUMBER: _ClassVar[int]
    FUSION_RULE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_OUT_OF_SCOPE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    model: str
    version: str
    target: int
    methods: _containers.RepeatedScalarFieldContainer[str]
    ig: IntegratedGradientsSettings
    lime: LimeSettings
    fusion_weights: _containers.ScalarMap[str, float]
    faithfulness: bool
    overlays: bool
    fusion_rule: str
    allow_out_of_scope: bool
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., model: _Optional[str] = ..., version: _Optional[str] = ..., target: _Optional[int] = ..., methods: _Optional[_Iterable[str]] = ..., ig: _Optional[_Union[IntegratedGradientsSettings, _Mapping]] = ..., lime: _Optional[_Union[LimeSettings, _Mapping]] = ..., fusion_weights: _Optional[_Mapping[str, float]] = ..., faithfulness: _Optional[bool] = ..., overlays: _Optional[bool] = ..., fusion_rule: _Optional[str] = ..., allow_out_of_scope: _Optional[bool] = ...) -> None: ...

class Map(_message.Message):
    __slots__ = ("method", "shape", "data", "overlay_png", "diagnostics", "seconds", "undefined")
    class DiagnosticsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class UndefinedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_PNG_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_FIELD_NUMBER: _ClassVar[int]
    method: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    overlay_png: bytes
    diagnostics: _containers.ScalarMap[str, float]
    seconds: float
    undefined: _containers.ScalarMap[str, str]
    def __init__(self, method: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ..., overlay_png: _Optional[bytes] = ..., diagnostics: _Optional[_Mapping[str, float]] = ..., seconds: _Optional[float] = ..., undefined: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ExplainResponse(_message.Message):
    __slots__ = ("request_id", "prediction", "model", "maps", "seconds", "ig_completeness_gap", "lime_r2")
    class SecondsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MAPS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    IG_COMPLETENESS_GAP_FIELD_NUMBER: _ClassVar[int]
    LIME_R2_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    prediction: Prediction
    model: ModelInfo
    maps: _containers.RepeatedCompositeFieldContainer[Map]
    seconds: _containers.ScalarMap[str, float]
    ig_completeness_gap: float
    lime_r2: float
    def __init__(self, request_id: _Optional[str] = ..., prediction: _Optional[_Union[Prediction, _Mapping]] = ..., model: _Optional[_Union[ModelInfo, _Mapping]] = ..., maps: _Optional[_Iterable[_Union[Map, _Mapping]]] = ..., seconds: _Optional[_Mapping[str, float]] = ..., ig_completeness_gap: _Optional[float] = ..., lime_r2: _Optional[float] = ...) -> None: ...

class ExplainEvent(_message.Message):
    __slots__ = ("request_id", "prediction", "model", "map")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    prediction: Prediction
    model: ModelInfo
    map: Map
    def __init__(self, request_id: _Optional[str] = ..., prediction: _Optional[_Union[Prediction, _Mapping]] = ..., model: _Optional[_Union[ModelInfo, _Mapping]] = ..., map: _Optional[_Union[Map, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...
