"""The survey link: a signed, timestamped token naming one survey (django.core.signing).

It says which survey and when it was signed, nothing a person could change: a token whose
signature does not match (forged, cut short, edited) is refused, and one signed more than
CSAT_LINK_MAX_AGE_DAYS ago has expired. Whether the rating may still be changed is the
survey's business (services.survey_answer), not the link's.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from supportdesk.errors import DomainError
from supportdesk.ids import id_from_text
from workflows.surveys.models import Survey, SurveyState

SALT = "workflows.surveys.link"
INVALID = _("This survey link is not valid. Please check that you copied all of it.")


class LinkInvalid(DomainError):
    code = "link_invalid"
    status_code = 400


class LinkExpired(DomainError):
    code = "link_expired"
    status_code = 410


def survey_token(survey: Survey) -> str:
    return signing.dumps({"s": survey.pk}, salt=SALT, compress=False)


def survey_url(survey: Survey) -> str:
    """The absolute link a customer opens (DESK_PUBLIC_URL + the rating page)."""
    return settings.DESK_PUBLIC_URL + reverse("survey-rate", kwargs={"token": survey_token(survey)})


def survey_from_token(token: str) -> Survey:
    """The survey a link names, or LinkInvalid / LinkExpired saying what is wrong with it."""
    max_age = timedelta(days=settings.CSAT_LINK_MAX_AGE_DAYS)
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired(str(_("This survey link has expired."))) from None
    except signing.BadSignature:
        raise LinkInvalid(str(INVALID)) from None
    survey_id = id_from_text(str(payload.get("s", ""))) if isinstance(payload, dict) else None
    survey = (Survey.objects.select_related("conversation", "contact").filter(pk=survey_id).first()
              if survey_id else None)
    if survey is None:
        raise LinkInvalid(str(INVALID))
    if survey.state in (SurveyState.CANCELLED, SurveyState.SCHEDULED, SurveyState.FAILED):
        # Signed but never sent (or withdrawn when the conversation was reopened).
        raise LinkExpired(str(_("This survey is no longer open.")))
    return survey
