"""medxai as a node of a hospital's PACS: studies in (C-STORE receiver, or WADO-RS on demand), explanations back as
standard DICOM objects (Parametric Map, Secondary Capture, Comprehensive SR with TID 1500) by STOW-RS.

A component of its own: a gRPC client of the explain service, as the dashboard is; it never imports model code,
and the core (`medxai/`) does not import it."""
