#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    from django.core.management import execute_from_command_line

    from supportdesk.deployment import InsecureDeployment

    try:
        execute_from_command_line(sys.argv)
    except InsecureDeployment as refused:  # a sentence for whoever deploys, not a traceback
        sys.exit(str(refused))


if __name__ == "__main__":
    main()
