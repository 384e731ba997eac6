"""What a model knows: its intended use, an out-of-distribution score from its own features, and conformal
prediction sets. Fitted when the model is trained (`fit.fit_scope`), stored in the checkpoint (`Scope`), applied
wherever a person sees an answer (`assess`)."""

from medxai.scope.assessment import Assessment, assess
from medxai.scope.scope import Scope

__all__ = ["Assessment", "Scope", "assess"]
