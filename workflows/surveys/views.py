"""The public rating page a survey link opens: no login, in the customer's language.

GET shows the question (and the rating given, if any); POST stores the answer through
`services.survey_answer`, the same path as the widget's. A link that is forged (400),
expired (410) or whose rating can no longer be changed (410) gets a page saying so, in the
survey's language where the survey is known.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from supportdesk import languages
from supportdesk.errors import DomainError
from workflows import access
from workflows.surveys import links, services
from workflows.surveys.models import Survey

TOKEN_MAX_CHARS = 512


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(label=_("Your rating"), coerce=int, widget=forms.RadioSelect,
                                   error_messages={"required": _("Choose a rating from 1 to 5.")})
    comment = forms.CharField(label=_("Anything you would like to tell us? (optional)"), required=False,
                              max_length=services.COMMENT_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["score"].choices = list(services.score_labels().items())


def _problem(request: HttpRequest, error: DomainError, *, survey: Survey | None = None) -> HttpResponse:
    return render(request, "surveys/problem.html",
                  {"code": error.code, "message": error.message, "survey": survey,
                   "language": translation.get_language()}, status=error.status_code)


@require_http_methods(["GET", "POST"])
def survey_rate(request: HttpRequest, token: str) -> HttpResponse:
    if len(token) > TOKEN_MAX_CHARS:
        with translation.override(languages.customer_language(request=request)):
            # The same words as any other link that names no survey (surveys.links).
            return _problem(request, DomainError(str(links.INVALID), code="link_invalid"))
    # Until the link names a survey, the browser's language is all there is: the link's errors
    # are worded in it.
    with translation.override(languages.customer_language(request=request)):
        try:
            survey = access.access_survey_link(token=token)
        except DomainError as error:
            return _problem(request, error)
    with translation.override(languages.customer_language(contact_language=survey.language, request=request)):
        language = translation.get_language()
        if not services.may_change(survey):
            locked = services.RatingLocked(gettext(
                "You rated this conversation already, and ratings can be changed for %(days)s days only. "
                "Thank you!") % {"days": settings.CSAT_CHANGE_DAYS})
            return _problem(request, locked, survey=survey)
        saved = False
        if request.method == "POST":
            form = RatingForm(request.POST)
            if form.is_valid():
                try:
                    survey = services.survey_answer(survey_id=survey.pk, score=form.cleaned_data["score"],
                                                    comment=form.cleaned_data["comment"])
                    saved = True
                except DomainError as error:
                    if error.status_code != 400:
                        return _problem(request, error, survey=survey)
                    form.add_error(None, error.message)
        else:
            initial = {"score": survey.score, "comment": survey.comment} if survey.score else None
            form = RatingForm(initial=initial)
        context = {"survey": survey, "form": form, "saved": saved, "language": language,
                   "texts": services.survey_texts(language), "change_days": settings.CSAT_CHANGE_DAYS}
        return render(request, "surveys/rate.html", context, status=400 if form.errors else 200)
