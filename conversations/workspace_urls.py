"""The agent workspace under /desk/ (included from supportdesk.urls)."""

from django.urls import path

from conversations import (
    call_invitations,
    call_views,
    contact_page,
    order_page,
    suggestion_views,
    supervise_views,
    workspace,
)

app_name = "desk"

urlpatterns = [
    path("", workspace.workspace, name="workspace"),
    path("login/", workspace.DeskLoginView.as_view(), name="login"),
    path("logout/", workspace.DeskLogoutView.as_view(), name="logout"),
    path("presence/", workspace.presence, name="presence"),
    path("language/", workspace.desk_language_set, name="language"),
    path("offers/", workspace.offers, name="offers"),
    path("offers/<int:item_id>/accept/", workspace.offer_accept, name="offer_accept"),
    path("offers/<int:item_id>/decline/", workspace.offer_decline, name="offer_decline"),
    path("conversations/", workspace.conversation_list, name="conversation_list"),
    # The whole workspace with one conversation open (reloads, links); the partial is below.
    path("c/<int:conversation_id>/", workspace.workspace, name="conversation_page"),
    path("conversations/<int:conversation_id>/", workspace.conversation_detail, name="conversation"),
    path("conversations/<int:conversation_id>/contact/", workspace.contact_sidebar, name="contact"),
    path("conversations/<int:conversation_id>/messages/", workspace.message_send, name="message_send"),
    path("conversations/<int:conversation_id>/messages/<int:sequence>/attachments/<int:index>/",
         workspace.message_attachment, name="message_attachment"),
    # The open conversation's suggested replies, and how well they do (supervisors).
    path("conversations/<int:conversation_id>/suggestions/", suggestion_views.suggestions, name="suggestions"),
    path("supervise/suggestions/", suggestion_views.supervise_suggestions, name="supervise_suggestions"),
    path("conversations/<int:conversation_id>/transfer/", workspace.conversation_transfer, name="transfer"),
    path("conversations/<int:conversation_id>/resolve/", workspace.conversation_resolve, name="resolve"),
    path("conversations/<int:conversation_id>/calls/", call_views.call_panel, name="call_panel"),
    path("conversations/<int:conversation_id>/calls/hold/", call_views.call_hold, name="call_hold"),
    path("conversations/<int:conversation_id>/calls/resume/", call_views.call_resume, name="call_resume"),
    path("conversations/<int:conversation_id>/calls/hangup/", call_views.call_hangup, name="call_hangup"),
    path("contacts/", contact_page.contacts_search, name="contacts"),
    path("contacts/<int:contact_id>/", contact_page.contact_page, name="contact_page"),
    path("contacts/<int:contact_id>/timeline/", contact_page.contact_timeline_panel,
         name="contact_timeline_panel"),
    path("orders/<int:order_id>/", order_page.order_page, name="order_page"),
    # Supervisors only (conversations.supervision checks): every ongoing conversation, agents' presence.
    path("supervise/", supervise_views.ongoing, name="supervise"),
    path("supervise/<int:conversation_id>/", supervise_views.conversation, name="supervise_conversation"),
    path("supervise/<int:conversation_id>/whisper/", supervise_views.whisper, name="supervise_whisper"),
    path("supervise/<int:conversation_id>/take-over/", supervise_views.take_over, name="supervise_take_over"),
    path("supervise/agents/", supervise_views.agents, name="supervise_agents"),
    path("supervise/agents/<int:user_id>/presence/", supervise_views.agent_presence,
         name="supervise_agent_presence"),
    # Proactive calls (seed 002): the "Send call invitation" panel and send, the contact reason
    # set without resolving, and the supervisors' counts.
    path("conversations/<int:conversation_id>/call-invitation/", call_invitations.invitation,
         name="call_invitation"),
    path("conversations/<int:conversation_id>/contact-reason/", call_invitations.contact_reason_set,
         name="contact_reason_set"),
    path("supervise/call-invitations/", supervise_views.call_invitations, name="supervise_call_invitations"),
]
