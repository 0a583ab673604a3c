from django.urls import path

from workflows.surveys import views

urlpatterns = [
    path("rate/<str:token>/", views.survey_rate, name="survey-rate"),
]
