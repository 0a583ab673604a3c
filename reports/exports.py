"""Any table of a report as CSV or XLSX: the same figures the page shows, as numbers (shares
in percent, times in seconds), with the metric's name and unit in each header."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from openpyxl import Workbook

from reports.selectors import AGENT_METRICS, DIMENSIONS, METRICS
from supportdesk.errors import DomainError

TABLES = ("totals", "series", "hour_of_week", *DIMENSIONS, "agent")
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _header(metric: Any) -> str:
    unit = {"percent": " (%)", "seconds": " (s)"}.get(metric.format, "")
    return f"{metric.label}{unit}"


def _cell(metric: Any, value: Any) -> Any:
    if value is None:
        return ""
    if metric.format == "percent":
        return round(value * 100, 1)
    if metric.format in ("seconds", "number"):
        return round(value, 1)
    return int(value) if float(value).is_integer() else value


def table_rows(report: dict[str, Any], table: str) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) of one table of `report` (reports.selectors.report)."""
    if table not in TABLES:
        raise DomainError(_("table must be one of %(choices)s.") % {"choices": ", ".join(TABLES)},
                          code="invalid_filter")
    metrics = AGENT_METRICS if table == "agent" else METRICS
    headers = [_header(metric) for metric in metrics]
    if table == "totals":
        rows = [[_("This period"), *[_cell(m, report["totals"].get(m.key)) for m in metrics]]]
        if report.get("previous"):
            rows.append([_("Previous period"), *[_cell(m, report["previous"].get(m.key)) for m in metrics]])
        return ["", *headers], rows
    if table == "series":
        return [_("From"), *headers], [[entry["at"], *[_cell(m, entry.get(m.key)) for m in metrics]]
                                       for entry in report["series"]]
    if table == "hour_of_week":
        keep = [m for m in METRICS if m.key in ("created", "arrived", "service_level")]
        return ([_("Weekday (0 = Monday)"), _("Hour"), *[_header(m) for m in keep]],
                [[cell["weekday"], cell["hour"], *[_cell(m, cell.get(m.key)) for m in keep]]
                 for cell in report["hour_of_week"]])
    return [_("Value"), _("Name"), *headers], [[entry["value"], entry["label"],
                                                *[_cell(m, entry.get(m.key)) for m in metrics]]
                                               for entry in report["tables"][table]]


def export_response(report: dict[str, Any], *, table: str, file_format: str) -> HttpResponse:
    if file_format not in FORMATS:
        raise DomainError(_("format must be csv or xlsx."), code="invalid_filter")
    headers, rows = table_rows(report, table)
    name = f"report-{table}-{report['range']['start']}-{report['range']['end']}.{file_format}"
    if file_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        writer.writerows([[_safe(value) for value in row] for row in rows])
        body: bytes = buffer.getvalue().encode("utf-8-sig")  # Excel reads the BOM as UTF-8
    else:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=table[:31])
        sheet.append(headers)
        for row in rows:
            sheet.append([_safe(value) for value in row])
        stream = io.BytesIO()
        workbook.save(stream)
        body = stream.getvalue()
    return HttpResponse(body, content_type=CONTENT_TYPES[file_format],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=, +, -, @) is written as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
