from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("oms/webhook", views.oms_webhook, name="oms-webhook"),
]
