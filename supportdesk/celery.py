"""The Celery application: Redis broker, configuration from Django settings, beat schedule."""

import os

from celery import Celery
from celery.loaders.app import AppLoader

from supportdesk.deployment import InsecureDeployment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")


class _Loader(AppLoader):
    """Celery's loader, which stops a worker or beat refused by the settings with the sentence that
    says why instead of a traceback (the settings load here, while Celery parses its options)."""

    def config_from_object(self, obj: object, silent: bool = False) -> bool:
        try:
            return super().config_from_object(obj, silent=silent)
        except InsecureDeployment as refused:
            raise SystemExit(str(refused)) from None


app = Celery("supportdesk", loader="supportdesk.celery:_Loader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
