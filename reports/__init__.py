"""Reports: the read side on top of every layer, imported by none (DESIGN.md). So far the
staffing calculation (`reports.staffing`), a pure module the reports will call."""
