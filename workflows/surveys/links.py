"""The survey link: a signed, timestamped token naming one survey (django.core.signing).

It says which survey and when it was signed, nothing a person could change: a token whose
signature does not match (forged, cut short, edited) is refused, and one signed more than
CSAT_LINK_MAX_AGE_DAYS ago has expired. Whether the rating may still be changed is the
survey's business (services.survey_answer), not the link's.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from supportdesk.signed_links import LinkExpired, LinkInvalid, signed_link_id, signed_link_token
from workflows.surveys.models import Survey, SurveyState

__all__ = ["LinkExpired", "LinkInvalid", "survey_from_token", "survey_token", "survey_url"]

SALT = "workflows.surveys.link"
INVALID = _("This survey link is not valid. Please check that you copied all of it.")


def survey_token(survey: Survey) -> str:
    return signed_link_token(salt=SALT, key="s", row_id=survey.pk)


def survey_url(survey: Survey) -> str:
    """The absolute link a customer opens (DESK_PUBLIC_URL + the rating page)."""
    return settings.DESK_PUBLIC_URL + reverse("survey-rate", kwargs={"token": survey_token(survey)})


def survey_from_token(token: str) -> Survey:
    """The survey a link names, or LinkInvalid / LinkExpired saying what is wrong with it."""
    survey_id = signed_link_id(token, salt=SALT, key="s", max_age=timedelta(days=settings.CSAT_LINK_MAX_AGE_DAYS),
                               invalid=str(INVALID), expired=str(_("This survey link has expired.")))
    survey = Survey.objects.select_related("conversation", "contact").filter(pk=survey_id).first()
    if survey is None:
        raise LinkInvalid(str(INVALID))
    if survey.state in (SurveyState.CANCELLED, SurveyState.SCHEDULED, SurveyState.FAILED):
        # Signed but never sent (or withdrawn when the conversation was reopened).
        raise LinkExpired(str(_("This survey is no longer open.")))
    return survey
