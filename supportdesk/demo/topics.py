"""What contacts write in about, per kind of contact, and on which channels."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.models import Channel
from supportdesk.demo.common import COURIER, CUSTOMER, PARTNER


@dataclass(frozen=True)
class Reason:
    code: str
    subject: str
    inbound: tuple[str, ...]
    outbound: tuple[str, ...]
    # The macro the agent's first answer starts from (supportdesk.demo.chat.MACROS), recorded on the
    # reply as inserted: the history the suggested replies learn from. None: answered by hand.
    macro: str | None = None


REASONS: dict[str, tuple[Reason, ...]] = {
    CUSTOMER: (
        Reason("late_order", "Order {order} is late",
               ("{hello}! My order {order} should have been here by now. Where is it?",
                "Still nothing. The app says it is on its way."),
               ("Sorry about the wait. The courier is {minutes} minutes away and I have "
                "added a credit to your account.",), macro="latecredit"),
        Reason("missing_item", "Missing item in {order}",
               ("{hello}, the {item} was missing from order {order}.",),
               ("Sorry about that! I have refunded the {item} to your card.",), macro="missingitem"),
        Reason("refund", "Refund for {order}",
               ("{hello}, I was charged twice for order {order}.",
                "The second charge is still on my statement."),
               ("Thanks for the details. The duplicate charge is refunded; it takes 3-5 "
                "days to show.",), macro="refund"),
        Reason("cancel_order", "Cancel {order}",
               ("{hello}, please cancel order {order}, I ordered by mistake.",),
               ("Done: order {order} is cancelled and you will not be charged.",), macro="cancelled"),
        Reason("payment", "Payment failed",
               ("{hello}, my card keeps getting declined at checkout.",),
               ("The payment provider had a short outage. Could you try again now?",), macro="paymentretry"),
    ),
    COURIER: (
        Reason("app_issue", "App keeps logging me out",
               ("{hello}, the courier app logs me out every few minutes.",),
               ("Thanks! Please update to the latest version; that fixes the log-outs.",), macro="appupdate"),
        Reason("pickup_delay", "Waiting at the store for {order}",
               ("{hello}, I have been waiting 20 minutes for order {order} at the store.",),
               ("I have called the store; they are packing it now. The wait is paid.",), macro="waitpaid"),
        Reason("address_issue", "Cannot find the address for {order}",
               ("{hello}, the address for {order} does not exist and the customer does not "
                "answer.",),
               ("I have the customer on the line: it is the building behind the pharmacy.",)),
        Reason("payout", "Missing payout",
               ("{hello}, last week's payout is missing two deliveries.",),
               ("Found them: the two deliveries are added to this week's payout.",), macro="payoutfixed"),
    ),
    PARTNER: (
        Reason("menu_update", "Menu update",
               ("{hello}, please mark the {item} as sold out for today.",),
               ("Done, the {item} shows as sold out until midnight.",), macro="soldout"),
        Reason("payout", "Invoice question",
               ("{hello}, the last invoice charges commission on cancelled orders.",),
               ("You are right; a corrected invoice is on its way.",), macro="invoicecorrected"),
        Reason("tablet_offline", "Tablet offline",
               ("{hello}, our order tablet shows offline since this morning.",),
               ("I have reset your store on our side; please restart the tablet.",), macro="tabletreset"),
        Reason("order_dispute", "Customer complaint about {order}",
               ("{hello}, the customer says {order} was cold, but it left on time.",),
               ("Thanks, I have checked the trip: the courier was delayed, not you. No "
                "deduction.",)),
    ),
}
CHANNEL_WEIGHTS = {
    CUSTOMER: {Channel.CHAT: 45, Channel.EMAIL: 20, Channel.MESSAGING: 25, Channel.VOICE: 10},
    COURIER: {Channel.CHAT: 20, Channel.EMAIL: 5, Channel.MESSAGING: 45, Channel.VOICE: 30},
    PARTNER: {Channel.CHAT: 15, Channel.EMAIL: 50, Channel.MESSAGING: 10, Channel.VOICE: 25},
}
MESSAGING_PROVIDERS = ("whatsapp", "telegram", "messenger")
# A contact writing again after the resolution, and the agent's answer.
REOPEN_INBOUND = "Sorry to write again: it is still not sorted."
REOPEN_OUTBOUND = "Thanks for telling me. I have looked again and fixed it for good now."
