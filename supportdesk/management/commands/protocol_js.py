"""Write static/common/protocol.js from supportdesk/protocol.py (the socket names' one source)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from supportdesk import protocol


class Command(BaseCommand):
    help = "Regenerate static/common/protocol.js from supportdesk/protocol.py."

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.BASE_DIR / "static" / "common" / "protocol.js"
        path.write_text(protocol.js_module(), encoding="utf-8")
        self.stdout.write(f"Wrote {path}")
