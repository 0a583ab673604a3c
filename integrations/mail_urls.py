"""/desk/mailbox/: the local SMTP sink's messages (included from supportdesk.urls)."""

from django.urls import path

from integrations import mail_views

app_name = "mailbox"

urlpatterns = [
    path("", mail_views.mailbox, name="list"),
    path("<int:message_id>/", mail_views.mailbox_message, name="message"),
]
