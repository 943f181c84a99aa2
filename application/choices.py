"""What a client chose from an offer (a collection slot, or the prepaid label) becomes the trial's command,
as the client: a WhatsApp button or reply (application/replies.py) and an email's link (api/choices.py)
meet here. The choice is what the offer wrote (activities/messages.py, `slot_choice`); the trial judges it
like any booking (a slot that has started, or ends after the deadline, is refused with its reason)."""

from activities.messages import LABEL, read_choice
from domain import commands as cmd


def choice_command(choice: str, channel: cmd.Channel) -> cmd.CollectionBooking | cmd.ReturnLabel | None:
    """The command a client's choice is, or None when the text is no choice of ours."""
    chosen = read_choice(choice)
    if chosen is None:
        return None
    if chosen == LABEL:
        return cmd.ReturnLabel(actor="client", channel=channel)
    assert not isinstance(chosen, str)
    start, end = chosen
    return cmd.CollectionBooking(slot=cmd.Slot(starts_at=start, ends_at=end), actor="client", channel=channel)
