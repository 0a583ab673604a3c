from django.urls import path

from integrations.whatsapp import views

urlpatterns = [path("webhook/", views.webhook, name="whatsapp-webhook")]
